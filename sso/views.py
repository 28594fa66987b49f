"""SSO entry points: start a sign-in at a provider, and its callback (OIDC)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import login
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme

from access.admin_site import SSO_SESSION_KEY
from audit.actors import Actor
from sso import oidc
from sso.models import IdentityProvider
from sso.services import SignInRefused, sso_refusal_record, sso_sign_in

_PENDING = "sso_oidc_pending"


def _provider(slug: str, kind: str) -> IdentityProvider:
    return get_object_or_404(IdentityProvider, slug=slug, kind=kind, enabled=True)


def _fail(request: HttpRequest, provider: IdentityProvider, reason: str, text: str):
    sso_refusal_record(provider=provider, actor=Actor.from_request(request), reason=reason)
    messages.error(request, text)
    return HttpResponseRedirect(reverse("admin:login"))


def _redirect_uri(request: HttpRequest, provider: IdentityProvider) -> str:
    return request.build_absolute_uri(reverse("sso:oidc-callback", args=[provider.slug]))


def oidc_start(request: HttpRequest, slug: str) -> HttpResponse:
    provider = _provider(slug, IdentityProvider.OIDC)
    try:
        start = oidc.authorization_start(
            issuer=provider.issuer,
            client_id=provider.client_id,
            redirect_uri=_redirect_uri(request, provider),
        )
    except oidc.OidcError as exc:
        return _fail(request, provider, exc.reason, "The identity provider cannot be reached.")
    nxt = request.GET.get("next", "")
    pending = request.session.get(_PENDING, {})
    pending = dict(list(pending.items())[-4:])  # a few tabs at most
    pending[start.state] = {
        "provider": provider.pk,
        "nonce": start.nonce,
        "verifier": start.verifier,
        "next": nxt if url_has_allowed_host_and_scheme(nxt, {request.get_host()}) else "",
    }
    request.session[_PENDING] = pending
    return HttpResponseRedirect(start.url)


def oidc_callback(request: HttpRequest, slug: str) -> HttpResponse:
    provider = _provider(slug, IdentityProvider.OIDC)
    pending = request.session.get(_PENDING, {})
    flow = pending.pop(request.GET.get("state", ""), None)
    request.session[_PENDING] = pending
    if flow is None or flow["provider"] != provider.pk:
        return _fail(request, provider, "bad_state", "The sign-in expired: please start again.")
    if request.GET.get("error") or not request.GET.get("code"):
        return _fail(request, provider, "provider_error", "The identity provider refused.")
    try:
        id_token = oidc.code_exchange(
            issuer=provider.issuer,
            client_id=provider.client_id,
            client_secret=provider.client_secret(),
            code=request.GET["code"],
            redirect_uri=_redirect_uri(request, provider),
            verifier=flow["verifier"],
        )
        claims = oidc.id_token_verify(
            issuer=provider.issuer,
            client_id=provider.client_id,
            id_token=id_token,
            nonce=flow["nonce"],
        )
    except oidc.OidcError as exc:
        return _fail(request, provider, exc.reason, "Single sign-on failed: please try again.")
    groups = claims.get(provider.groups_claim) or []
    if isinstance(groups, str):
        groups = [groups]
    return _complete(
        request, provider, str(claims["sub"]), str(claims.get("email", "")), groups, flow["next"]
    )


def _complete(request, provider, subject, email, groups, nxt) -> HttpResponse:
    try:
        user = sso_sign_in(
            provider=provider,
            subject=subject,
            email=email,
            groups=groups,
            actor=Actor.from_request(request),
        )
    except SignInRefused as exc:
        messages.error(request, str(exc))
        return HttpResponseRedirect(reverse("admin:login"))
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    request.session[SSO_SESSION_KEY] = provider.pk
    return HttpResponseRedirect(nxt or reverse("admin:index"))
