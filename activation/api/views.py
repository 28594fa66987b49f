"""Inbound source webhooks: a signed POST per source, answered 202 once the payload is stored
(encrypted) in the inbox; a worker processes it. Authenticated by the source's signature, not
by a token (as dsar's signed callbacks), and rate-limited per source."""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from access.api.base import ScopedAPIView, json_client, json_response
from access.masking import UNMASKED_PERMISSION
from activation import selectors, services
from activation.models import Destination, InboxMessage, SourceEndpoint
from audit.services import audit_record_list_read
from consent.api.throttles import bucket_take, parse_rate
from core.errors import DomainError, ForbiddenError, NotFoundError
from core.pagination import int_query_param, uuid_query_param
from core.webhooks import SIGNATURE_HEADER

_SIGNATURE_META = "HTTP_" + SIGNATURE_HEADER.upper().replace("-", "_")
# What a source whose stored rate cannot be read gets (the default of a new source).
DEFAULT_RATE: str = SourceEndpoint._meta.get_field("rate").get_default()

logger = logging.getLogger(__name__)


def source_rate(endpoint: SourceEndpoint) -> str:
    """The rate the limiter applies to `endpoint`: its own, or the default one when the stored
    rate cannot be read (saved before the admin checked rates, or by a raw UPDATE), which made
    every call of the source a 500. Logged with the source's id only, never the stored text."""
    try:
        parse_rate(endpoint.rate)
    except (ImproperlyConfigured, TypeError, ValueError):
        logger.warning(
            "source %s has an unreadable rate: the default %s applies", endpoint.pk, DEFAULT_RATE
        )
        return DEFAULT_RATE
    return endpoint.rate


class SourceEventsView(APIView):
    """POST /api/v1/sources/<id>/events/: one Segment call (identify, track, page, alias)."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes: list = []
    # Seconds to wait, when the lean path's bucket refused the call: DRF's dispatch then
    # answers the 429 without taking a second token.
    refused_wait: float | None = None

    def dispatch(self, request, *args, **kwargs):
        """The common call (a signed call within the size limit, from a JSON client, valid and
        within the source's rate) stored on a lean path with the same checks, in the same
        order of effects, and answered as DRF answers it; any other call, and every error,
        through DRF's dispatch, which words it."""
        if request.method == "POST" and _SIGNATURE_META in request.META:
            response = self._lean_post(request, kwargs["source_id"])
            if response is not None:
                return response
        return super().dispatch(request, *args, **kwargs)

    def _lean_post(self, request, source_id) -> HttpResponse | None:
        """The 202 (or the 200 of a replay) of the common call; None for DRF's dispatch."""
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return None
        if length > settings.CUSTODIA_SOURCE_MAX_BYTES or not json_client(self, request):
            return None
        bucket = _bucket(source_id)
        endpoint, found = selectors.source_endpoint_active(
            source_id, also=(bucket, services.WAKE_KEY)
        )
        if endpoint is None or not endpoint.active:
            return None
        body = request.body
        if len(body) > settings.CUSTODIA_SOURCE_MAX_BYTES or not services.signature_valid(
            endpoint, body, request.META[_SIGNATURE_META]
        ):
            return None
        try:
            call = services.inbox_call(endpoint, body)
        except DomainError:
            return None
        wait = bucket_take(bucket, source_rate(endpoint), found=found)
        if wait:
            self.refused_wait = wait
            return None
        message, created = services.inbox_store(
            endpoint=endpoint, call=call, wake_waiting=services.WAKE_KEY in found
        )
        return json_response(self, _accepted(message, created), status=202 if created else 200)

    @extend_schema(request=OpenApiTypes.OBJECT, responses={202: OpenApiTypes.OBJECT})
    def post(self, request: Request, source_id) -> Response:
        """Signed (`Custodia-Signature: t=<unix>,v1=<hex>`) Segment call with a `messageId`.
        202: stored for processing; 200: a message id already accepted (not stored twice)."""
        bucket = _bucket(source_id)
        endpoint, found = selectors.source_endpoint_active(
            source_id, also=(bucket, services.WAKE_KEY)
        )
        if endpoint is None:
            raise services.InvalidSignature("Unknown source or bad signature.")
        if len(request.body) > settings.CUSTODIA_SOURCE_MAX_BYTES:
            raise exceptions.ValidationError({"body": ["The call is too large."]})

        def throttle() -> None:  # the bucket was read with the endpoint's version: one write
            wait = self.refused_wait or bucket_take(bucket, source_rate(endpoint), found=found)
            if wait:
                raise exceptions.Throttled(wait=wait)

        message, created = services.inbox_accept(
            endpoint=endpoint,
            body=request.body,
            signature=request.META.get(_SIGNATURE_META, ""),
            throttle=throttle,
            wake_waiting=services.WAKE_KEY in found,
        )
        return Response(_accepted(message, created), status=202 if created else 200)


def _bucket(source_id) -> str:
    return f"throttle:source:{source_id}"


def _accepted(message: InboxMessage, created: bool) -> dict:
    return {"id": str(message.pk), "status": message.status, "duplicate": not created}


class AudienceView(ScopedAPIView):
    """GET /api/v1/destinations/<id>/audience/: the people the destination may use now (their
    current consent allows every purpose it serves), in the token's regions, keyset-paginated
    (`?after=<cursor>`); `?since=<change id>` instead returns who was added and removed."""

    required_scopes = {"GET": "destinations:read"}
    required_permissions = {"GET": "activation.view_destination"}

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request: Request, destination_id: int) -> Response:
        destination = selectors.destination_get(destination_id)
        token = getattr(request, "auth", None)
        if destination is None or (token is not None and destination.token_id != token.pk):
            raise NotFoundError("No such destination.")
        if (
            destination.clear_identifiers
            and token is None
            and not request.user.has_perm(UNMASKED_PERMISSION)
        ):
            # The destination's own token takes what the officer configured; a person signed
            # in reads identifiers in clear only with the permission to see unmasked data.
            raise ForbiddenError(
                "This destination takes identifiers in clear: reading its audience needs "
                "the permission to view unmasked data."
            )
        limit = min(int_query_param(request, "limit", minimum=1, default=500), 5000)
        if "since" in request.query_params:
            return self._changes(request, destination, limit)
        cursor = uuid_query_param(request, "after")
        ids, following = selectors.audience_page(
            who=request, destination=destination, after=cursor, limit=limit
        )
        identifiers = selectors.identifiers_for(destination, ids)
        self._audit_read(destination, len(ids))
        return Response(
            {
                "results": [{"subject_id": str(pk), **identifiers[pk]} for pk in ids],
                "next": str(following) if following else None,
            }
        )

    def _audit_read(self, destination: Destination, count: int) -> None:
        """One audit event per page of identifiers read (their form, never their values)."""
        if count:
            audit_record_list_read(
                actor=self.actor,
                object_type="activation.audience",
                count=count,
                fields=["identifier.email", "identifier.phone"],
                reason=f"destination {destination.pk}; identifiers "
                + ("clear" if destination.clear_identifiers else "sha256"),
            )

    def _changes(self, request: Request, destination: Destination, limit: int) -> Response:
        """The changes after `since`: those of the next sync already written, else (the client
        is at the head of the feed) of a sync now. A retried GET with the same cursor gets the
        same changes and writes nothing more. Only the destination's own token syncs: a person
        signed in (an auditor's read-only role) reads the changes written, and never takes the
        next ones away from the destination's push."""
        since = int_query_param(request, "since", minimum=0, default=0)
        changes = selectors.audience_changes(
            who=request, destination=destination, since=since, limit=limit
        )
        if not changes and getattr(request, "auth", None) is not None:
            services.audience_sync(who=request, destination=destination)
            changes = selectors.audience_changes(
                who=request, destination=destination, since=since, limit=limit
            )
        identifiers = selectors.identifiers_for(
            destination, [c.subject_id for c in changes if c.change == "added"]
        )
        self._audit_read(destination, len(identifiers))
        return Response(
            {
                "added": [
                    {"subject_id": str(c.subject_id), **identifiers.get(c.subject_id, {})}
                    for c in changes
                    if c.change == "added"
                ],
                "removed": [
                    {"subject_id": str(c.subject_id)} for c in changes if c.change == "removed"
                ],
                "cursor": changes[-1].pk if changes else since,
            }
        )
