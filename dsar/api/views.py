"""DSAR API: public intake from the privacy center (property key, confirmed by a mailed code),
requests for service accounts and staff (dsar:read / dsar:manage, region-scoped), and the
signed callbacks of connected systems."""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.utils import OpenApiTypes, extend_schema
from rest_framework import status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from access.api.base import ScopedAPIView
from audit.actors import Actor, client_ip, truncate_ip
from consent.api.public import PublicBannerView
from consent.api.throttles import IntakeThrottle
from core import webhooks
from core.errors import DomainError
from core.fields import query_data
from core.pagination import page_parameters
from dsar import selectors, services
from dsar.api import serializers
from dsar.models import DataSubjectRequest, SystemTask
from profiles.selectors import subject_get

ACCEPTED = (
    "If we hold data on this address, a confirmation code is on its way to it. "
    "Enter it to start your request."
)


class CenterView(PublicBannerView):
    """The privacy center's endpoints: the person acts through a property's privacy center."""

    throttle_classes = [*PublicBannerView.throttle_classes, IntakeThrottle]

    def _center_actor(self, request: Request) -> Actor:
        # The timeline and audit name the website, not its database id.
        return Actor(
            kind="public",
            id=f"property:{self.property.pk}",
            label=f"the privacy center of {self.property.name}"[:150],
            ip=truncate_ip(client_ip(request)),
            regions=None,  # the person acting on their own data, not bound to a staff scope
        )


class IntakeView(CenterView):
    @extend_schema(request=serializers.IntakeSerializer, responses={202: OpenApiTypes.OBJECT})
    def post(self, request: Request) -> Response:
        """Open a request from the privacy center; a code is mailed to confirm the address."""
        body = serializers.IntakeSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        dsr = services.intake_public(
            kind=data["kind"],
            email=data["email"],
            region=data.get("region") or self.property.default_region,
            details=data.get("details") or {},
            actor=self._center_actor(request),
            confirm_url=f"{settings.CUSTODIA_PUBLIC_URL}/privacy-center/"
            f"?key={self.property.publishable_key}",
            property_id=self.property.pk,
        )
        return Response(
            {"reference": dsr.reference, "status": dsr.status, "message": ACCEPTED},
            status=status.HTTP_202_ACCEPTED,
        )


class ConfirmView(CenterView):
    @extend_schema(request=serializers.ConfirmSerializer, responses={200: OpenApiTypes.OBJECT})
    def post(self, request: Request) -> Response:
        """Confirm the e-mail address with the mailed code; the request then starts."""
        body = serializers.ConfirmSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        dsr = services.intake_confirm(
            reference=body.validated_data["reference"],
            code=body.validated_data["code"],
            actor=self._center_actor(request),
            property_id=self.property.pk,
        )
        return Response(
            {"reference": dsr.reference, "status": dsr.status, "due_at": dsr.due_at.isoformat()}
        )


class DsarView(ScopedAPIView):
    required_scopes = {"GET": "dsar:read", "POST": "dsar:manage"}


class RequestListView(DsarView):
    required_permissions = {"POST": "dsar.add_datasubjectrequest"}

    @extend_schema(
        operation_id="dsar_requests_list",
        parameters=[serializers.RequestListQuerySerializer, *page_parameters()],
        responses={200: OpenApiTypes.OBJECT},
    )
    def get(self, request: Request) -> Response:
        """Requests in the caller's scope, soonest deadline first (?status=open|<status>)."""
        query = serializers.RequestListQuerySerializer(data=query_data(request.query_params))
        query.is_valid(raise_exception=True)
        rows = selectors.request_list(who=request, status=query.validated_data.get("status"))
        page = self.paginator.paginate_queryset(rows, request, view=self)
        return self.paginator.get_paginated_response([selectors.request_summary(r) for r in page])

    @property
    def paginator(self):
        if not hasattr(self, "_paginator"):
            self._paginator = api_settings.DEFAULT_PAGINATION_CLASS()
        return self._paginator

    @extend_schema(
        request=serializers.RequestCreateSerializer, responses={201: OpenApiTypes.OBJECT}
    )
    def post(self, request: Request) -> Response:
        """Open a request on behalf of a subject (the calling service vouches for the identity),
        within the caller's regions: its pipeline acts on no subject outside them."""
        body = serializers.RequestCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        subject = (
            subject_get(who=request, subject_id=data["subject_id"])
            if data.get("subject_id")
            else None
        )
        dsr, _ = services.request_create(
            kind=data["kind"],
            channel=DataSubjectRequest.Channel.API,
            actor=self.actor,
            subject=subject,
            email=data.get("email", ""),
            region=data.get("region", ""),
            details=data.get("details") or {},
            verification=DataSubjectRequest.Verification.SERVICE,
        )
        return Response(selectors.request_summary(dsr), status=status.HTTP_201_CREATED)


class RequestDetailView(DsarView):
    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request: Request, request_id) -> Response:
        """One request: status, deadline, steps, connected systems, timeline (notes excluded)."""
        dsr = selectors.request_get(who=request, request_id=request_id)
        return Response(
            {
                **selectors.request_summary(dsr),
                "timeline": selectors.request_timeline(request=dsr, with_notes=False),
            }
        )


class _Decision(DsarView):
    body_serializer: type = serializers.ReasonSerializer

    def post(self, request: Request, request_id) -> Response:
        dsr = selectors.request_get(who=request, request_id=request_id, action="change")
        body = self.body_serializer(data=request.data)
        body.is_valid(raise_exception=True)
        dsr = self.decide(dsr, self.actor, body.validated_data["reason"])
        return Response(selectors.request_summary(dsr))


class ApproveView(_Decision):
    @extend_schema(request=serializers.ReasonSerializer, responses={200: OpenApiTypes.OBJECT})
    def post(self, request: Request, request_id) -> Response:
        """Approve a verified request (erasure and rectification wait for this)."""
        return super().post(request, request_id)

    def decide(self, dsr, actor, reason):
        return services.request_approve(request=dsr, actor=actor, reason=reason)


class DenyView(_Decision):
    body_serializer = serializers.ReasonRequiredSerializer

    @extend_schema(
        request=serializers.ReasonRequiredSerializer, responses={200: OpenApiTypes.OBJECT}
    )
    def post(self, request: Request, request_id) -> Response:
        """Refuse a request with the reason the person is told."""
        return super().post(request, request_id)

    def decide(self, dsr, actor, reason):
        return services.request_deny(request=dsr, actor=actor, reason=reason)


class ExtendView(_Decision):
    body_serializer = serializers.ReasonRequiredSerializer

    @extend_schema(
        request=serializers.ReasonRequiredSerializer, responses={200: OpenApiTypes.OBJECT}
    )
    def post(self, request: Request, request_id) -> Response:
        """Extend the deadline once by the regime's extension, with a reason."""
        return super().post(request, request_id)

    def decide(self, dsr, actor, reason):
        return services.request_extend(request=dsr, actor=actor, reason=reason)


class ArchiveLinkView(DsarView):
    required_scopes = {"POST": "dsar:manage"}

    @extend_schema(request=None, responses={200: OpenApiTypes.OBJECT})
    def post(self, request: Request, request_id) -> Response:
        """A download link for the access archive, for a request without a contact address
        (opened by a service or an officer who hands it over). Audited."""
        dsr = selectors.request_get(who=request, request_id=request_id, action="change")
        link = services.archive_link_issue(request=dsr, actor=self.actor)
        return Response(link)


class CallbackView(APIView):
    """Connected systems confirm their part with a callback signed with their shared secret."""

    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(request=serializers.CallbackSerializer, responses={200: OpenApiTypes.OBJECT})
    def post(self, request: Request, task_id) -> Response:
        """Signed callback (`Custodia-Signature`): {"status": "done"|"failed", "evidence"}."""
        task = (
            SystemTask.objects.select_related("connector", "connector__system")
            .filter(pk=task_id)
            .first()
        )
        header = request.META.get("HTTP_CUSTODIA_SIGNATURE", "")
        # A system without a secret cannot prove anything: anyone can sign with an empty key.
        secret = task.connector.secret if task is not None else ""
        if (
            task is None
            or not secret
            or not webhooks.verify(secret, request.body, header)
            or not webhooks.signature_bound(
                header, signer=str(task.connector_id), target=str(task.pk)
            )
        ):
            raise DomainError(
                "Unknown task or bad signature.", code="invalid_signature", status=401
            )
        body = serializers.CallbackSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        task = services.system_task_complete(
            task=task,
            actor=Actor(
                kind="system",
                id=f"system:{task.connector.system_id}",
                label=f"system:{task.connector.system.name}"[:150],
            ),
            evidence=body.validated_data["evidence"],
            failed=body.validated_data["status"] == "failed",
        )
        return Response({"task": str(task.pk), "status": task.status})
