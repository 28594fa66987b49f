"""Audit log listing for auditors, DPOs and privacy officers (scope audit:read for tokens).

These views live in access, above audit, because they check the caller with access's token
scopes and region scope; the URLs stay /api/v1/audit/... (`access.api.audit_urls`)."""

from __future__ import annotations

from django.db.models import QuerySet
from django.http import StreamingHttpResponse
from drf_spectacular.utils import extend_schema
from rest_framework import generics
from rest_framework.request import Request

from access.api.audit_serializers import AuditEventSerializer, AuditFilterSerializer
from access.api.base import ScopedAPIView, ScopedViewMixin
from audit.actors import Actor
from audit.export import audit_csv_response
from audit.models import AuditEvent
from audit.selectors import audit_events_filter
from audit.services import audit_record
from core.errors import ForbiddenError
from core.fields import query_data


# The caller's role must read the audit log; rows are limited to their regions.
class AuditAccessMixin(ScopedViewMixin):
    required_scopes = {"GET": "audit:read"}

    def filtered_events(self, request: Request) -> QuerySet[AuditEvent]:
        if not request.user.has_perm("audit.view_auditevent"):
            raise ForbiddenError("Your role cannot read the audit log.")
        filters = AuditFilterSerializer(data=query_data(request.query_params))
        filters.is_valid(raise_exception=True)
        data = filters.validated_data
        return audit_events_filter(
            regions=self.regions,
            subject_id=data.get("subject"),
            actor=data.get("actor"),
            action=data.get("action"),
            region=data.get("region"),
            date_from=data.get("date_from"),
            date_to=data.get("date_to"),
        )


@extend_schema(parameters=[AuditFilterSerializer])
class AuditEventListView(AuditAccessMixin, generics.ListAPIView):
    """Audit events of the caller's regions, newest first, filtered by the query parameters."""

    serializer_class = AuditEventSerializer

    def get_queryset(self) -> QuerySet[AuditEvent]:
        return self.filtered_events(self.request)


class AuditEventCsvView(AuditAccessMixin, ScopedAPIView):
    """The same events as a CSV file; the export itself is written to the audit log."""

    @extend_schema(parameters=[AuditFilterSerializer], responses={(200, "text/csv"): str})
    def get(self, request: Request) -> StreamingHttpResponse:
        events = self.filtered_events(request)
        audit_record(
            actor=Actor.from_request(request),
            action="audit.event.export",
            object_type="audit.event",
            object_id="csv",
        )
        return audit_csv_response(events.order_by("sequence"), "audit-events.csv")
