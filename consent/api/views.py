"""Consent API for systems and staff: decisions (single, bulk, point-in-time), writes, history,
receipts. Tokens need consent:read / consent:write; everything is scoped by region."""

from __future__ import annotations

import re
import uuid

from drf_spectacular.utils import OpenApiTypes, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from access.api.base import ScopedAPIView
from consent import selectors, services
from consent.api import serializers
from consent.gpp import GPPStringError, decode_gpp_string
from consent.models import ConsentRecord, Notice
from consent.receipts import consent_receipt
from consent.tcf import tc_string_checked
from core.errors import DomainError, ForbiddenError, NotFoundError
from core.fields import query_data
from profiles.models import Subject
from profiles.selectors import subject_get


class ConsentView(ScopedAPIView):
    required_scopes = {"GET": "consent:read", "POST": "consent:read"}


def _may_view(request) -> bool:
    return request.user.has_perm("consent.view_currentconsent")


def _require_view(request: Request) -> None:
    if not _may_view(request):
        raise ForbiddenError("Your role cannot read consent decisions.")


_SLUG = re.compile(r"^[-a-zA-Z0-9_]+$")


def _plain_decision_query(params) -> tuple[uuid.UUID, str] | None:
    """The common query (`subject` and `purpose` only, each once and well formed) read without
    a serializer; anything else (None) goes through `DecisionQuerySerializer`, which words the
    errors."""
    if len(params) != 2 or len(params.getlist("subject")) != 1:
        return None
    subject, purpose = params.get("subject"), params.get("purpose")
    if not purpose or not subject or not _SLUG.match(purpose):
        return None
    try:
        return uuid.UUID(subject), purpose
    except ValueError:
        return None


class DecisionView(ConsentView):
    def dispatch(self, request, *args, **kwargs):
        """The common call (a token, `subject` and `purpose` now, a JSON client) answered on a
        lean path with the same checks (`token_admitted`) and the same response as DRF's; any
        other call, and every error, through DRF's dispatch."""
        plain = _plain_decision_query(request.GET) if request.method == "GET" else None
        if plain is not None and self.token_admitted(request) and _may_view(request):
            try:
                data = _decision_now(request, *plain)
            except DomainError:
                data = None  # an unknown purpose: DRF's dispatch words it
            if data is not None:
                return self.json_response(data)
        return super().dispatch(request, *args, **kwargs)

    @extend_schema(
        parameters=[serializers.DecisionQuerySerializer], responses={200: OpenApiTypes.OBJECT}
    )
    def get(self, request: Request) -> Response:
        """May this subject's data be used for this purpose, now or at `at`?"""
        _require_view(request)
        plain = _plain_decision_query(request.query_params)
        if plain is not None:
            return self._now(request, *plain)
        query = serializers.DecisionQuerySerializer(data=query_data(request.query_params))
        query.is_valid(raise_exception=True)
        subject_id = query.validated_data["subject"]
        if query.validated_data.get("at") is None:
            return self._now(request, subject_id, query.validated_data["purpose"])
        purpose = selectors.purpose_get(query.validated_data["purpose"])
        subject = _subject_in_scope(request, subject_id)
        decision = selectors.may_process(
            subject=subject, purpose=purpose, at=query.validated_data["at"]
        )
        return Response({"subject": str(subject.pk), **decision.as_dict()})

    def _now(self, request: Request, subject_id: uuid.UUID, slug: str) -> Response:
        data = _decision_now(request, subject_id, slug)
        if data is None:
            raise NotFoundError("Subject not found.")
        return Response(data)


def _decision_now(request, subject_id: uuid.UUID, slug: str) -> dict | None:
    """The body of a decision now; None if the subject is unknown or outside the caller's
    regions. NotFoundError for an unknown purpose."""
    decision = selectors.may_process_now(subject_id=subject_id, purpose=slug, who=request)
    return None if decision is None else {"subject": str(subject_id), **decision.as_dict()}


def _subject_in_scope(request: Request, subject_id) -> Subject:
    """Consent readers (marketing) need no profile permission: scope by region only."""
    from access.scoping import region_allowed

    subject = Subject.objects.filter(pk=subject_id).only("id", "region", "jurisdiction").first()
    if subject is None or not region_allowed(request, subject.region):
        raise NotFoundError("Subject not found.")
    return subject


class BulkDecisionView(ConsentView):
    @extend_schema(request=serializers.BulkDecisionSerializer, responses={200: OpenApiTypes.OBJECT})
    def post(self, request: Request) -> Response:
        """Decisions for many subjects x purposes in one call (activation jobs). Subjects outside
        the caller's scope, or unknown, are listed under `not_found`."""
        _require_view(request)
        body = serializers.BulkDecisionSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        purposes = [selectors.purpose_get(slug) for slug in body.validated_data["purposes"]]
        decisions = selectors.may_process_bulk(
            who=request,
            subject_ids=body.validated_data["subjects"],
            purposes=purposes,
            at=body.validated_data.get("at"),
        )
        found = set(decisions)
        return Response(
            {
                "decisions": {
                    sid: {slug: d.as_dict() for slug, d in per.items()}
                    for sid, per in decisions.items()
                },
                "not_found": [
                    str(s) for s in body.validated_data["subjects"] if str(s) not in found
                ],
            }
        )


class ConsentWriteView(ConsentView):
    required_scopes = {"POST": "consent:write"}
    required_permissions = {"POST": "consent.add_consentrecord"}
    permission_message = "Your role cannot record consent."

    @extend_schema(
        request=serializers.ConsentWriteSerializer,
        responses={201: serializers.ConsentRecordSerializer},
    )
    def post(self, request: Request) -> Response:
        """Record a consent decision collected by another system (channel `api`), for a
        subject within the caller's regions."""
        body = serializers.ConsentWriteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        subject = subject_get(who=request, subject_id=data["subject"])
        notice = Notice.objects.filter(pk=data["notice"]).first() if data.get("notice") else None
        if data.get("notice") and notice is None:
            raise DomainError("Unknown notice.", fields={"notice": ["not found"]})
        tc_string = data.get("tc_string") or ""
        if tc_string:
            tc_string_checked(tc_string)
        record = services.consent_record(
            purpose=selectors.purpose_get(data["purpose"]),
            state=data["state"],
            channel="api",
            actor=self.actor,
            subject=subject,
            notice=notice,
            proof=services.Proof(
                user_agent=request.META.get("HTTP_USER_AGENT", ""), tc_string=tc_string
            ),
            idempotency_key=data.get("idempotency_key"),
        )
        return Response(
            serializers.ConsentRecordSerializer(record).data, status=status.HTTP_201_CREATED
        )


class SubjectHistoryView(ConsentView):
    @extend_schema(responses=serializers.ConsentRecordSerializer(many=True))
    def get(self, request: Request, subject_id: str) -> Response:
        if not request.user.has_perm("consent.view_consentrecord"):
            raise ForbiddenError("Your role cannot read consent records.")
        subject = _subject_in_scope(request, subject_id)
        records = (
            ConsentRecord.objects.restrict(request, "view")
            .filter(subject=subject)
            .select_related("purpose")
        )
        return Response(serializers.ConsentRecordSerializer(records[:500], many=True).data)


class ReceiptView(ConsentView):
    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request: Request, record_id: str) -> Response:
        """The ISO/IEC TS 27560 receipt of one ledger record."""
        record = (
            ConsentRecord.objects.restrict(request, "view")
            .select_related("purpose", "notice")
            .filter(pk=record_id)
            .first()
        )
        if record is None:
            raise NotFoundError("Consent record not found.")
        return Response(consent_receipt(record))


class TCStringView(ConsentView):
    @extend_schema(request=serializers.TCStringSerializer, responses={200: OpenApiTypes.OBJECT})
    def post(self, request: Request) -> Response:
        """Decode and validate an IAB TCF v2.2 TC string."""
        body = serializers.TCStringSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        return Response(tc_string_checked(body.validated_data["tc_string"]).as_dict())


class GPPStringView(ConsentView):
    @extend_schema(request=serializers.GPPStringSerializer, responses={200: OpenApiTypes.OBJECT})
    def post(self, request: Request) -> Response:
        """Decode and validate an IAB GPP string: its header and each section's fields."""
        body = serializers.GPPStringSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            return Response(decode_gpp_string(body.validated_data["gpp_string"]).as_dict())
        except GPPStringError as exc:
            raise DomainError(
                str(exc), code="gpp_string_invalid", fields={"gpp_string": [str(exc)]}
            ) from exc
