"""Ingestion and profile API (token scopes profiles:write / profiles:read)."""

from __future__ import annotations

import hashlib
import json

from django.db import IntegrityError, transaction
from drf_spectacular.utils import OpenApiParameter, OpenApiTypes, extend_schema, extend_schema_view
from rest_framework import generics, status
from rest_framework.request import Request
from rest_framework.response import Response

from access.api.base import ScopedAPIView, ScopedViewMixin, SessionOnlyAPIView
from access.services import unmask_grant_create
from core.errors import ConflictError, DomainError, NotFoundError
from profiles import imports, selectors, services
from profiles.api import serializers
from profiles.models import ImportJob, IngestionRequest

WRITE = {"POST": "profiles.add_subject"}


class ProfilesView(ScopedAPIView):
    required_scopes = {"GET": "profiles:read", "POST": "profiles:write"}


class SubjectUpsertView(ProfilesView):
    """Create or update one subject; within the caller's regions only (see subject_upsert):
    201 when created, 200 when a subject of the record's region was matched."""

    required_permissions = WRITE

    @extend_schema(request=serializers.RecordSerializer, responses={201: OpenApiTypes.OBJECT})
    def post(self, request: Request) -> Response:
        serializers.RecordSerializer(data=request.data).is_valid(raise_exception=True)
        result = services.subject_upsert(record=request.data, actor=self.actor).as_dict()
        return Response(
            result, status=status.HTTP_201_CREATED if result["created"] else status.HTTP_200_OK
        )


class SubjectBatchView(ProfilesView):
    """Up to 1,000 records; the same idempotency key with the same body answers the stored
    result, with another body 409, and 409 too once the caller's regions shrank since (the
    stored answer names subjects by region). Each record succeeds or fails on its own (a
    record for a region outside the caller's scope fails with `region_not_allowed`)."""

    required_permissions = WRITE

    @extend_schema(request=serializers.BatchSerializer, responses={200: OpenApiTypes.OBJECT})
    def post(self, request: Request) -> Response:
        payload = serializers.BatchSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        key = payload.validated_data["idempotency_key"]
        caller = f"{self.actor.kind}:{self.actor.id}"
        body_hash = hashlib.sha256(json.dumps(request.data, sort_keys=True).encode()).hexdigest()
        previous = IngestionRequest.objects.filter(caller=caller, key=key).first()
        if previous is not None:
            if previous.body_hash != body_hash:
                raise ConflictError(
                    "This idempotency key was used with a different body.",
                    code="idempotency_key_reused",
                )
            if not _still_in_scope(self.actor.regions, previous.regions):
                # The answer names subjects of regions the caller may no longer see.
                raise ConflictError(
                    "Your regions changed since this idempotency key was used; "
                    "send the batch again with a new key.",
                    code="idempotency_scope_changed",
                )
            return Response({**previous.response, "replayed": True})
        results = []
        for index, record in enumerate(payload.validated_data["records"]):
            try:
                result = services.subject_upsert(record=record, actor=self.actor)
                results.append({"index": index, **result.as_dict()})
            except DomainError as exc:
                results.append(
                    {
                        "index": index,
                        "error": {"code": exc.code, "message": exc.message, "fields": exc.fields},
                    }
                )
        response = {
            "idempotency_key": key,
            "results": results,
            "succeeded": sum("error" not in r for r in results),
            "failed": sum("error" in r for r in results),
        }
        try:
            with transaction.atomic():
                IngestionRequest.objects.create(
                    caller=caller,
                    key=key,
                    body_hash=body_hash,
                    response=response,
                    regions=None if self.actor.regions is None else sorted(self.actor.regions),
                )
        except IntegrityError:
            pass  # a concurrent retry stored the same answer first
        return Response(response)


def _still_in_scope(current: frozenset[str] | None, stored: list[str] | None) -> bool:
    """True if a caller seeing `current` regions (None = every region) sees every region a
    stored answer was made in (`stored`; None = every region)."""
    if current is None:
        return True
    return stored is not None and set(stored) <= current


class SubjectSearchView(ProfilesView):
    required_scopes = {"POST": "profiles:read"}

    @extend_schema(
        request=serializers.SearchSerializer,
        responses=serializers.SubjectSummarySerializer(many=True),
    )
    def post(self, request: Request) -> Response:
        query = serializers.SearchSerializer(data=request.data)
        query.is_valid(raise_exception=True)
        subjects = selectors.subject_search(who=request, **query.validated_data)
        return Response(serializers.SubjectSummarySerializer(subjects[:20], many=True).data)


REGION_PARAM = OpenApiParameter(
    "region",
    OpenApiTypes.STR,
    description="A region code (EU, US-CA, ...): only subjects of that region, within the "
    "caller's own regions.",
)


@extend_schema_view(get=extend_schema(parameters=[REGION_PARAM]))
class SubjectListView(ScopedViewMixin, generics.ListAPIView):
    required_scopes = {"GET": "profiles:read"}
    serializer_class = serializers.SubjectSummarySerializer

    def get_queryset(self):
        return selectors.subject_list(
            who=self.request,
            actor=self.actor,
            region=self.request.query_params.get("region"),
        )


class SubjectDetailView(ProfilesView):
    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request: Request, subject_id: str) -> Response:
        subject = selectors.subject_get(who=request, subject_id=subject_id)
        return Response(selectors.subject_profile(who=request, subject=subject, actor=self.actor))


class SubjectEventsView(ProfilesView):
    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request: Request, subject_id: str) -> Response:
        subject = selectors.subject_get(who=request, subject_id=subject_id)
        return Response(
            {"results": selectors.subject_events(who=request, subject=subject, actor=self.actor)}
        )


class ImportCreateView(ProfilesView):
    """POST an NDJSON body (Content-Type: application/x-ndjson), one record per line; the
    import keeps the caller's regions and applies them to every line."""

    required_permissions = WRITE

    body_limit_setting = "CUSTODIA_IMPORT_MAX_BYTES"

    @extend_schema(
        request={"application/x-ndjson": OpenApiTypes.BINARY},
        responses={202: serializers.ImportJobSerializer},
        parameters=[
            OpenApiParameter(
                "region",
                OpenApiTypes.STR,
                description="The region given to lines that name none (one of the caller's "
                "regions).",
            )
        ],
    )
    def post(self, request: Request) -> Response:
        if not request.content_type.startswith(("application/x-ndjson", "application/jsonl")):
            raise DomainError(
                "Send the file as application/x-ndjson.", code="unsupported_media_type", status=415
            )
        job = imports.import_job_create(
            stream=request._request,
            actor=self.actor,
            region=request.query_params.get("region", ""),
        )
        return Response(serializers.ImportJobSerializer(job).data, status=status.HTTP_202_ACCEPTED)


def _job(view: ScopedViewMixin, job_id: str) -> ImportJob:
    job = ImportJob.objects.filter(pk=job_id, created_by=view.actor.label).first()
    if job is None:
        raise NotFoundError("Import not found.")
    return job


class ImportDetailView(ProfilesView):
    required_permissions = {"GET": "profiles.add_subject"}

    @extend_schema(responses=serializers.ImportJobSerializer)
    def get(self, request: Request, job_id: str) -> Response:
        return Response(serializers.ImportJobSerializer(_job(self, job_id)).data)


class ImportErrorsView(ScopedViewMixin, generics.ListAPIView):
    required_scopes = {"GET": "profiles:read"}
    required_permissions = {"GET": "profiles.add_subject"}
    serializer_class = serializers.ImportLineErrorSerializer

    def get_queryset(self):
        return _job(self, self.kwargs["job_id"]).errors.all()


# Served at /api/v1/access/unmask/ (settings/urls.py): the grant is access's row, the subject
# is loaded here through profiles' scoped selector. (A docstring would change the OpenAPI text.)
class UnmaskView(SessionOnlyAPIView):
    @extend_schema(request=serializers.UnmaskSerializer, responses={201: OpenApiTypes.OBJECT})
    def post(self, request: Request) -> Response:
        data = serializers.UnmaskSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        subject = selectors.subject_get(who=request, subject_id=data.validated_data["subject"])
        grant = unmask_grant_create(
            user=request.user,
            subject=subject,
            reason=data.validated_data["reason"],
            minutes=data.validated_data["minutes"],
            actor=self.actor,
        )
        return Response(
            {"subject": str(subject.pk), "expires_at": grant.expires_at},
            status=status.HTTP_201_CREATED,
        )
