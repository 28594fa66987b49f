"""SSO entry points: start a sign-in at a provider, and its callback (OIDC)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import login
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from access.admin_site import SSO_SESSION_KEY
from audit.actors import Actor
from sso import oidc
from sso.models import IdentityProvider
from sso.services import SignInRefused, saml_assertion_claim, sso_refusal_record, sso_sign_in

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
    elif not isinstance(groups, list):
        groups = []  # a claim of another shape names no group (it was a 500)
    groups = [str(g) for g in groups if isinstance(g, str | int) and not isinstance(g, bool)]
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


# --- SAML 2.0 -------------------------------------------------------------------------------

_SAML_PENDING = "sso_saml_pending"


def _saml_config(request: HttpRequest, provider: IdentityProvider, *, with_idp: bool = True):
    from sso import saml

    return saml.sp_config(
        provider=provider,
        sp_entity_id=request.build_absolute_uri(reverse("sso:saml-metadata", args=[provider.slug])),
        acs_url=request.build_absolute_uri(reverse("sso:saml-acs", args=[provider.slug])),
        with_idp=with_idp,
    )


def saml_metadata(request: HttpRequest, slug: str) -> HttpResponse:
    from sso import saml

    provider = _provider(slug, IdentityProvider.SAML)
    try:
        # The SP's own metadata: published even before the IdP's fields are complete.
        body = saml.sp_metadata(_saml_config(request, provider, with_idp=False))
    except saml.SamlError as exc:
        # An installation fault (xmlsec1 not installed), not the caller's: say so plainly.
        return HttpResponse(
            f"SAML is not available on this server ({exc.reason}); see docs/sso.md.",
            status=503,
            content_type="text/plain; charset=utf-8",
        )
    return HttpResponse(body, content_type="application/samlmetadata+xml")


def saml_start(request: HttpRequest, slug: str) -> HttpResponse:
    from sso import saml

    provider = _provider(slug, IdentityProvider.SAML)
    nxt = request.GET.get("next", "")
    nxt = nxt if url_has_allowed_host_and_scheme(nxt, {request.get_host()}) else ""
    try:
        request_id, location = saml.login_redirect(
            _saml_config(request, provider), idp_entity_id=provider.entity_id, relay_state=nxt
        )
    except saml.SamlError as exc:
        return _fail(request, provider, exc.reason, "Single sign-on is not available.")
    pending = dict(list(request.session.get(_SAML_PENDING, {}).items())[-4:])
    pending[request_id] = provider.pk
    request.session[_SAML_PENDING] = pending
    return HttpResponseRedirect(location)


@csrf_exempt  # the IdP posts the signed response; the signature is the proof
@require_POST
def saml_acs(request: HttpRequest, slug: str) -> HttpResponse:
    from sso import saml

    provider = _provider(slug, IdentityProvider.SAML)
    pending = request.session.get(_SAML_PENDING, {})
    outstanding = {rid: "" for rid, pk in pending.items() if pk == provider.pk}
    try:
        identity = saml.response_verify(
            _saml_config(request, provider),
            saml_response=request.POST.get("SAMLResponse", ""),
            outstanding=outstanding,
            groups_attr=provider.groups_claim,
        )
    except saml.SamlError as exc:
        return _fail(request, provider, exc.reason, "Single sign-on failed: please try again.")
    if not identity.subject:
        return _fail(request, provider, "no_subject", "Single sign-on failed: please try again.")
    if not saml_assertion_claim(
        provider=provider, assertion_id=identity.assertion_id, expires_at=identity.expires_at
    ):
        return _fail(request, provider, "replayed", "Single sign-on failed: please try again.")
    request.session[_SAML_PENDING] = {}
    nxt = request.POST.get("RelayState", "")
    nxt = nxt if url_has_allowed_host_and_scheme(nxt, {request.get_host()}) else ""
    return _complete(request, provider, identity.subject, identity.email, identity.groups, nxt)
