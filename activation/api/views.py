"""Inbound source webhooks: a signed POST per source, answered 202 once the payload is stored
(encrypted) in the inbox; a worker processes it. Authenticated by the source's signature, not
by a token (as dsar's signed callbacks), and rate-limited per source."""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from activation import services
from activation.selectors import source_endpoint_active
from consent.api.throttles import bucket_take
from core.webhooks import SIGNATURE_HEADER

_SIGNATURE_META = "HTTP_" + SIGNATURE_HEADER.upper().replace("-", "_")


class SourceEventsView(APIView):
    """POST /api/v1/sources/<id>/events/: one Segment call (identify, track, page, alias)."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes: list = []

    @extend_schema(request=OpenApiTypes.OBJECT, responses={202: OpenApiTypes.OBJECT})
    def post(self, request: Request, source_id) -> Response:
        """Signed (`Custodia-Signature: t=<unix>,v1=<hex>`) Segment call with a `messageId`.
        202: stored for processing; 200: a message id already accepted (not stored twice)."""
        endpoint = source_endpoint_active(source_id)
        if endpoint is None:
            raise services.InvalidSignature("Unknown source or bad signature.")
        if len(request.body) > settings.CUSTODIA_SOURCE_MAX_BYTES:
            raise exceptions.ValidationError({"body": ["The call is too large."]})

        def throttle() -> None:
            wait = bucket_take(f"throttle:source:{endpoint.pk}", endpoint.rate)
            if wait:
                raise exceptions.Throttled(wait=wait)

        message, created = services.inbox_accept(
            endpoint=endpoint,
            body=request.body,
            signature=request.META.get(_SIGNATURE_META, ""),
            throttle=throttle,
        )
        return Response(
            {"id": str(message.pk), "status": message.status, "duplicate": not created},
            status=202 if created else 200,
        )
