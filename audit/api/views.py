"""Audit log listing for auditors, DPOs and privacy officers (scope audit:read for tokens)."""

from __future__ import annotations

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import generics
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.views import APIView

from access.permissions import TokenScopePermission
from access.scoping import allowed_regions
from audit.actors import Actor
from audit.admin import audit_csv_response
from audit.api.serializers import AuditEventSerializer, AuditFilterSerializer
from audit.models import AuditEvent
from audit.selectors import audit_events_filter
from audit.services import audit_record
from core.errors import ForbiddenError
from core.fields import query_data


class AuditAccessMixin:
    permission_classes = [IsAuthenticated, TokenScopePermission]
    required_scopes = {"GET": "audit:read"}

    def filtered_events(self, request: Request) -> QuerySet[AuditEvent]:
        if not request.user.has_perm("audit.view_auditevent"):
            raise ForbiddenError("Your role cannot read the audit log.")
        filters = AuditFilterSerializer(data=query_data(request.query_params))
        filters.is_valid(raise_exception=True)
        data = filters.validated_data
        return audit_events_filter(
            regions=allowed_regions(request),
            subject_id=data.get("subject"),
            actor=data.get("actor"),
            action=data.get("action"),
            region=data.get("region"),
            date_from=data.get("date_from"),
            date_to=data.get("date_to"),
        )


@extend_schema(parameters=[AuditFilterSerializer])
class AuditEventListView(AuditAccessMixin, generics.ListAPIView):
    serializer_class = AuditEventSerializer

    def get_queryset(self) -> QuerySet[AuditEvent]:
        return self.filtered_events(self.request)


class AuditEventCsvView(AuditAccessMixin, APIView):
    @extend_schema(parameters=[AuditFilterSerializer], responses={(200, "text/csv"): str})
    def get(self, request: Request):
        events = self.filtered_events(request)
        audit_record(
            actor=Actor.from_request(request),
            action="audit.event.export",
            object_type="audit.event",
            object_id="csv",
        )
        return audit_csv_response(events.order_by("sequence"), "audit-events.csv")
