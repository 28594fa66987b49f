"""The public banner API: authenticated by a publishable property key (no user session), CORS
limited to the property's origins, rate-limited per client and per key (consent/api/throttles);
`Sec-GPC: 1` recorded and honoured where the visitor's jurisdiction says so."""

from __future__ import annotations

import re
from typing import Any

from django.http import HttpRequest, HttpResponse
from drf_spectacular.utils import OpenApiParameter, OpenApiTypes, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import APIException
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from access.api.base import json_client, json_response
from audit.actors import Actor, client_ip
from consent import banner
from consent.api.throttles import KEY_HEADER, PublicClientThrottle, buckets_take, public_buckets
from consent.models import ConsentProperty
from consent.refdata import refdata
from consent.services import visitor_identify
from core import fields
from core.errors import DomainError, ForbiddenError
from core.parsers import (
    CheckedJSONParser,
    CheckedPlainTextJSONParser,
    body_limit,
    json_loads_checked,
)
from core.stamps import stamps_read_with

VISITOR_ID = re.compile(r"^[A-Za-z0-9-]{8,64}$")


class ChoicesSerializer(serializers.Serializer):
    visitor_id = fields.StrictRegexField(VISITOR_ID)
    region = fields.StrictCharField(max_length=16, required=False)
    choices = serializers.DictField(
        child=fields.StrictChoiceField(choices=["granted", "denied", "withdrawn"])
    )
    notice = fields.StrictIntegerField(required=False)
    tc_string = fields.StrictCharField(required=False, allow_blank=True, max_length=4000)


_CHOICE_STATES = frozenset(["granted", "denied", "withdrawn"])
_CHOICES_TEXT = {"region": 16, "tc_string": 4000}  # maximum lengths


def _plain_choices(data: Any) -> dict[str, Any] | None:
    """A banner body that `ChoicesSerializer` would accept unchanged (known keys, JSON types as
    the schema says, text already trimmed and within its length), read without it; anything
    else (None) goes through the serializer, which words the errors."""
    if not isinstance(data, dict) or not data.keys() <= _CHOICES_FIELDS:
        return None
    visitor, choices = data.get("visitor_id"), data.get("choices")
    if not isinstance(visitor, str) or not VISITOR_ID.match(visitor) or visitor.strip() != visitor:
        return None
    if not isinstance(choices, dict) or not all(
        isinstance(state, str) and state in _CHOICE_STATES for state in choices.values()
    ):
        return None
    if "notice" in data and type(data["notice"]) is not int:
        return None
    for name, max_length in _CHOICES_TEXT.items():
        value = data.get(name, "")
        if not isinstance(value, str) or len(value) > max_length or value.strip() != value:
            return None
    if "region" in data and not data["region"]:
        return None  # blank: the serializer refuses it
    return data


class PublicBannerView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [PublicClientThrottle]
    body_limit_setting = "CUSTODIA_PUBLIC_MAX_BODY_BYTES"

    def initial(self, request: Request, *args, **kwargs) -> None:
        self.property = self._property(request)
        super().initial(request, *args, **kwargs)

    def _property(self, request: Request | HttpRequest) -> ConsentProperty:
        """The property of the call's key. The key's rate buckets are read with the request's
        stamps (the reference data's version) in one cache read; the throttle then only
        writes the buckets."""
        key = request.META.get(KEY_HEADER) or request.GET.get("key")
        prop = None
        if key:
            self.buckets = public_buckets(request, key)
            self.buckets_found = stamps_read_with([name for name, _ in self.buckets])
            prop = refdata().properties.get(key)
        if prop is None or not prop.active:
            raise DomainError(
                "Unknown or inactive property key.", code="invalid_property_key", status=401
            )
        origin = request.META.get("HTTP_ORIGIN")
        same_origin = origin == f"{request.scheme}://{request.get_host()}"  # the privacy center
        if origin and not same_origin and origin not in prop.allowed_origins:
            raise ForbiddenError(
                "This origin is not allowed for this property.", code="origin_not_allowed"
            )
        return prop

    def finalize_response(self, request: Request, response: Response, *args, **kwargs) -> Response:
        response = super().finalize_response(request, response, *args, **kwargs)
        self._public_headers(request, response)
        return response

    def _public_headers(self, request: Request | HttpRequest, response: HttpResponse) -> None:
        """CORS for the property's origins; never cached (every answer is one visitor's)."""
        origin = request.META.get("HTTP_ORIGIN")
        prop = getattr(self, "property", None)
        if origin and prop is not None and origin in prop.allowed_origins:
            response["Access-Control-Allow-Origin"] = origin
            response["Access-Control-Allow-Headers"] = "Content-Type, X-Custodia-Key, Sec-GPC"
            response["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
            response["Access-Control-Max-Age"] = "600"
        response["Vary"] = "Origin"
        response["Cache-Control"] = "no-store"

    def options(self, request: Request, *args, **kwargs) -> HttpResponse:
        """CORS preflight: 204 for the property's origins (the key travels in the query)."""
        return Response(status=status.HTTP_204_NO_CONTENT)

    @staticmethod
    def gpc(request: Request | HttpRequest) -> bool:
        return request.META.get("HTTP_SEC_GPC", "").strip() == "1"

    @staticmethod
    def proof(request: Request | HttpRequest) -> dict:
        return {
            "user_agent": request.META.get("HTTP_USER_AGENT", ""),
            "ip": client_ip(request),
            "gpc": PublicBannerView.gpc(request),
        }


class BannerConfigQuerySerializer(serializers.Serializer):
    visitor_id = fields.StrictRegexField(
        VISITOR_ID, required=False, help_text="the banner's visitor id (8-64 letters, digits or -)"
    )


_CONFIG_PARAMETERS = [
    OpenApiParameter(
        "region",
        OpenApiTypes.STR,
        description="The visitor's region code (EU, US-CA, BR, ...); its regime decides the "
        "defaults.",
    ),
    OpenApiParameter(
        "lang",
        OpenApiTypes.STR,
        description="Preferred languages (BCP 47, comma-separated); else the Accept-Language "
        "header.",
    ),
]


class BannerConfigView(PublicBannerView):
    """The banner's configuration and the visitor's current choices. The banner POSTs the
    visitor id in a text/plain JSON body (no CORS preflight, and never in a URL, where web
    servers and proxies log it); GET with `?visitor=` is kept, deprecated, for copies of the
    banner made before."""

    parser_classes = [CheckedJSONParser, CheckedPlainTextJSONParser]

    @extend_schema(
        request=BannerConfigQuerySerializer,
        responses={200: OpenApiTypes.OBJECT},
        parameters=_CONFIG_PARAMETERS,
    )
    def post(self, request: Request) -> Response:
        """Purposes and notice in the visitor's language, the regime of their region, and the
        current choices of the visitor named in the body (`{"visitor_id": …}`, optional; a GPC
        signal is recorded first where it must be honoured)."""
        # An empty body reads as {} (an anonymous visitor); `null`, a list or a string is
        # refused by the serializer, as the schema says (an object).
        body = BannerConfigQuerySerializer(data=request.data)
        body.is_valid(raise_exception=True)
        return self._config(request, body.validated_data.get("visitor_id", ""))

    @extend_schema(
        responses={200: OpenApiTypes.OBJECT},
        deprecated=True,
        parameters=[
            OpenApiParameter(
                "visitor",
                OpenApiTypes.STR,
                deprecated=True,
                description="Deprecated: the visitor id in the URL lands in web-server and "
                "proxy logs; POST it in the body instead.",
            ),
            *_CONFIG_PARAMETERS,
        ],
    )
    def get(self, request: Request) -> Response:
        """Deprecated form of POST: the same answer, the visitor id read from `?visitor=`."""
        visitor = request.query_params.get("visitor", "")
        if visitor and not VISITOR_ID.match(visitor):
            raise DomainError(
                "Malformed visitor id.", fields={"visitor": ["8-64 letters, digits or -"]}
            )
        response = self._config(request, visitor)
        if visitor:
            response["Deprecation"] = "true"  # RFC 9745: a banner copy to refresh
        return response

    def _config(self, request: Request, visitor: str) -> Response:
        return Response(
            banner.banner_config(
                prop=self.property,
                region=request.query_params.get("region", ""),
                # The banner's override or navigator.languages, else the browser's header.
                language=request.query_params.get("lang", "")
                or request.META.get("HTTP_ACCEPT_LANGUAGE", ""),
                visitor_id=visitor,
                proof=self.proof(request),
                actor=Actor.public(f"property:{self.property.pk}", ip=client_ip(request)),
            )
        )


class BannerConsentView(PublicBannerView):
    # The lean path's rate decision (seconds to wait, 0 when granted) once it took the call's
    # tokens: DRF's dispatch, answering the call after it, does not take them a second time.
    throttle_wait: float | None = None

    def dispatch(self, request, *args, **kwargs):
        """The common call (a JSON body of a known property's key, from an allowed origin, that
        `_plain_choices` reads, within the client's and the key's rates) recorded on a lean
        path with the same checks in the same order and answered as DRF answers it; any other
        call, and every error (a refused rate, an unknown purpose), through DRF's dispatch,
        which words it."""
        if request.method == "POST":
            response = self._lean_post(request)
            if response is not None:
                return response
        return super().dispatch(request, *args, **kwargs)

    def _lean_post(self, request: HttpRequest) -> HttpResponse | None:
        """The 200 of the common call; None for DRF's dispatch (before any effect, or after
        the rate tokens were taken, with `throttle_wait` set)."""
        try:
            length = int(request.META.get("CONTENT_LENGTH") or -1)
        except ValueError:
            return None
        if (
            not 0 <= length <= body_limit(self)
            or request.content_type != "application/json"
            or not json_client(self, request)
        ):
            return None
        try:
            self.property = self._property(request)
            data = _plain_choices(json_loads_checked(request.body))
        except (DomainError, APIException):
            return None
        if data is None:
            return None
        self.throttle_wait = buckets_take(self.buckets, found=self.buckets_found)
        if self.throttle_wait:
            return None
        try:
            body = self._record(request, data)
        except DomainError:
            return None  # raised before any write: DRF's dispatch records nothing, words it
        response = json_response(self, body)
        self._public_headers(request, response)
        return response

    @extend_schema(request=ChoicesSerializer, responses={200: OpenApiTypes.OBJECT})
    def post(self, request: Request) -> Response:
        """Record the visitor's choices (one ledger record per changed purpose)."""
        data = _plain_choices(request.data)
        if data is None:
            body = ChoicesSerializer(data=request.data)
            body.is_valid(raise_exception=True)
            data = body.validated_data
        return Response(self._record(request, data))

    def _record(self, request: Request | HttpRequest, data: dict[str, Any]) -> dict[str, Any]:
        return banner.banner_record_choices(
            prop=self.property,
            visitor_id=data["visitor_id"],
            region=data.get("region", ""),
            choices=data["choices"],
            notice_id=data.get("notice"),
            tc_string=data.get("tc_string", ""),
            proof=self.proof(request),
            actor=Actor.public(f"property:{self.property.pk}", ip=client_ip(request)),
        )


_CHOICES_FIELDS = frozenset(ChoicesSerializer().fields)


class IdentifySerializer(serializers.Serializer):
    visitor_id = fields.StrictRegexField(VISITOR_ID)
    assertion = fields.StrictCharField(max_length=2000)


class BannerIdentifyView(PublicBannerView):
    @extend_schema(request=IdentifySerializer, responses={200: OpenApiTypes.OBJECT})
    def post(self, request: Request) -> Response:
        """Link the visitor to the customer an identity assertion signed by the site's backend
        names; their choices then follow them. 401 forged or expired, 409 replayed, 404 no such
        customer in the property's regions."""
        body = IdentifySerializer(data=request.data)
        body.is_valid(raise_exception=True)
        return Response(
            visitor_identify(
                prop=self.property,
                visitor_id=body.validated_data["visitor_id"],
                assertion=body.validated_data["assertion"],
            )
        )
