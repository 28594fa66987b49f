"""Ingestion and profile API (token scopes profiles:write / profiles:read)."""

from __future__ import annotations

import hashlib
import json

from django.db import IntegrityError, transaction
from drf_spectacular.utils import OpenApiTypes, extend_schema
from rest_framework import generics, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from access.permissions import TokenScopePermission
from access.scoping import region_allowed
from audit.actors import Actor
from ops.errors import ConflictError, DomainError, ForbiddenError, NotFoundError
from profiles import imports, selectors, services
from profiles.api import serializers
from profiles.models import ImportJob, IngestionRequest


class ProfilesView(APIView):
    permission_classes = [IsAuthenticated, TokenScopePermission]
    required_scopes = {"GET": "profiles:read", "POST": "profiles:write"}


def _require(request: Request, permission: str) -> None:
    if not request.user.has_perm(permission):
        raise ForbiddenError("Your role does not allow this.")


def _upsert_one(request: Request, record: object) -> dict:
    region = str(record.get("region", "")).upper() if isinstance(record, dict) else ""
    if region and not region_allowed(request, region):
        raise ForbiddenError("Outside your region scope.", code="region_not_allowed")
    return services.subject_upsert(record=record, actor=Actor.from_request(request)).as_dict()


class SubjectUpsertView(ProfilesView):
    @extend_schema(request=serializers.RecordSerializer, responses={201: OpenApiTypes.OBJECT})
    def post(self, request: Request) -> Response:
        _require(request, "profiles.add_subject")
        serializers.RecordSerializer(data=request.data).is_valid(raise_exception=True)
        result = _upsert_one(request, request.data)
        return Response(
            result, status=status.HTTP_201_CREATED if result["created"] else status.HTTP_200_OK
        )


class SubjectBatchView(ProfilesView):
    """Up to 1,000 records; the same idempotency key with the same body answers the stored
    result, with another body 409. Each record succeeds or fails on its own."""

    @extend_schema(request=serializers.BatchSerializer, responses={200: OpenApiTypes.OBJECT})
    def post(self, request: Request) -> Response:
        _require(request, "profiles.add_subject")
        payload = serializers.BatchSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        key = payload.validated_data["idempotency_key"]
        caller = f"{Actor.from_request(request).kind}:{Actor.from_request(request).id}"
        body_hash = hashlib.sha256(json.dumps(request.data, sort_keys=True).encode()).hexdigest()
        previous = IngestionRequest.objects.filter(caller=caller, key=key).first()
        if previous is not None:
            if previous.body_hash != body_hash:
                raise ConflictError(
                    "This idempotency key was used with a different body.",
                    code="idempotency_key_reused",
                )
            return Response({**previous.response, "replayed": True})
        results = []
        for index, record in enumerate(payload.validated_data["records"]):
            try:
                results.append({"index": index, **_upsert_one(request, record)})
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
                    caller=caller, key=key, body_hash=body_hash, response=response
                )
        except IntegrityError:
            pass  # a concurrent retry stored the same answer first
        return Response(response)


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


class SubjectListView(generics.ListAPIView):
    permission_classes = [IsAuthenticated, TokenScopePermission]
    required_scopes = {"GET": "profiles:read"}
    serializer_class = serializers.SubjectSummarySerializer

    def get_queryset(self):
        return selectors.subject_list(
            who=self.request,
            actor=Actor.from_request(self.request),
            region=self.request.query_params.get("region"),
        )


class SubjectDetailView(ProfilesView):
    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request: Request, subject_id: str) -> Response:
        subject = selectors.subject_get(who=request, subject_id=subject_id)
        return Response(
            selectors.subject_profile(
                who=request, subject=subject, actor=Actor.from_request(request)
            )
        )


class SubjectEventsView(ProfilesView):
    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request: Request, subject_id: str) -> Response:
        subject = selectors.subject_get(who=request, subject_id=subject_id)
        return Response(
            {
                "results": selectors.subject_events(
                    who=request, subject=subject, actor=Actor.from_request(request)
                )
            }
        )


class ImportCreateView(ProfilesView):
    """POST an NDJSON body (Content-Type: application/x-ndjson), one record per line."""

    body_limit_setting = "CUSTODIA_IMPORT_MAX_BYTES"

    @extend_schema(
        request={"application/x-ndjson": OpenApiTypes.BINARY},
        responses={202: serializers.ImportJobSerializer},
    )
    def post(self, request: Request) -> Response:
        _require(request, "profiles.add_subject")
        if not request.content_type.startswith(("application/x-ndjson", "application/jsonl")):
            raise DomainError(
                "Send the file as application/x-ndjson.", code="unsupported_media_type", status=415
            )
        region = request.query_params.get("region", "").upper()
        if region and not region_allowed(request, region):
            raise ForbiddenError("Outside your region scope.", code="region_not_allowed")
        job = imports.import_job_create(
            stream=request._request, actor=Actor.from_request(request), region=region
        )
        return Response(serializers.ImportJobSerializer(job).data, status=status.HTTP_202_ACCEPTED)


def _job(request: Request, job_id: str) -> ImportJob:
    _require(request, "profiles.add_subject")
    job = ImportJob.objects.filter(pk=job_id, created_by=Actor.from_request(request).label).first()
    if job is None:
        raise NotFoundError("Import not found.")
    return job


class ImportDetailView(ProfilesView):
    @extend_schema(responses=serializers.ImportJobSerializer)
    def get(self, request: Request, job_id: str) -> Response:
        return Response(serializers.ImportJobSerializer(_job(request, job_id)).data)


class ImportErrorsView(generics.ListAPIView):
    permission_classes = [IsAuthenticated, TokenScopePermission]
    required_scopes = {"GET": "profiles:read"}
    serializer_class = serializers.ImportLineErrorSerializer

    def get_queryset(self):
        return _job(self.request, self.kwargs["job_id"]).errors.all()
