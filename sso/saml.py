"""SAML 2.0 service provider with pysaml2 (xmlsec1 signs and verifies; see
scripts/install-xmlsec.sh): the SP configuration per IdP, built from the admin's fields."""

from __future__ import annotations

import base64
import calendar
import datetime as dt
import shutil
import time
from dataclasses import dataclass
from xml.sax.saxutils import escape, quoteattr

from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT
from saml2.client import Saml2Client
from saml2.config import SPConfig
from saml2.metadata import create_metadata_string

GROUP_ATTRIBUTES = (
    "groups",
    "memberOf",
    "http://schemas.microsoft.com/ws/2008/06/identity/claims/groups",
)


class SamlError(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _pem_body(certificate: str) -> str:
    lines = [line.strip() for line in certificate.strip().splitlines() if "-----" not in line]
    return "".join(lines)


def certificate_readable(certificate: str) -> bool:
    """Whether `certificate` (PEM, with or without its BEGIN/END lines) is an X.509
    certificate: the IdP's signing certificate an officer pastes into the provider's form."""
    from cryptography import x509

    try:
        x509.load_der_x509_certificate(base64.b64decode(_pem_body(certificate), validate=True))
    except (ValueError, TypeError):
        return False
    return True


def idp_metadata(*, entity_id: str, sso_url: str, certificate: str) -> str:
    return (
        '<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" '
        f'xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID={quoteattr(entity_id)}>'
        '<md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">'
        '<md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>'
        f"{escape(_pem_body(certificate))}"
        "</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>"
        f'<md:SingleSignOnService Binding="{BINDING_HTTP_REDIRECT}" '
        f"Location={quoteattr(sso_url)}/>"
        "</md:IDPSSODescriptor></md:EntityDescriptor>"
    )


def sp_config(*, provider, sp_entity_id: str, acs_url: str, with_idp: bool = True) -> SPConfig:
    """The SP's configuration; with the IdP's metadata (from the admin's fields) unless
    `with_idp` is false (the SP's own metadata needs none). SamlError if xmlsec1 is missing or
    the IdP's fields make no metadata pysaml2 can read."""
    xmlsec = shutil.which("xmlsec1")
    if not xmlsec:
        raise SamlError("xmlsec1_missing")
    conf = {
        "entityid": sp_entity_id,
        "xmlsec_binary": xmlsec,
        "allow_unknown_attributes": True,
        "service": {
            "sp": {
                "endpoints": {"assertion_consumer_service": [(acs_url, BINDING_HTTP_POST)]},
                "allow_unsolicited": True,  # IdP-initiated sign-in
                "authn_requests_signed": False,
                "want_assertions_signed": True,
                "want_response_signed": False,
                "want_assertions_or_response_signed": True,
            }
        },
        "metadata": {
            "inline": [
                idp_metadata(
                    entity_id=provider.entity_id,
                    sso_url=provider.sso_url,
                    certificate=provider.certificate,
                )
            ]
        }
        if with_idp and provider.certificate
        else {},
    }
    config = SPConfig()
    try:
        config.load(conf)
    except Exception as exc:  # pysaml2 raises many kinds on metadata it cannot parse
        raise SamlError("idp_metadata_invalid") from exc
    return config


def sp_metadata(config: SPConfig) -> str:
    return create_metadata_string(None, config=config, valid=None).decode()


def login_redirect(config: SPConfig, *, idp_entity_id: str, relay_state: str) -> tuple[str, str]:
    """(request id, URL to send the browser to) for an SP-initiated sign-in; SamlError if the
    IdP's fields name no place to send it (no certificate, no SSO URL, another entity id)."""
    client = Saml2Client(config=config)
    try:
        request_id, info = client.prepare_for_authenticate(
            entityid=idp_entity_id, relay_state=relay_state, binding=BINDING_HTTP_REDIRECT
        )
        location = dict(info["headers"])["Location"]
    except Exception as exc:  # pysaml2 raises many kinds (SignOnError, TypeError on no URL)
        raise SamlError("idp_not_configured") from exc
    return request_id, location


@dataclass(frozen=True)
class SamlIdentity:
    subject: str
    email: str
    groups: list[str]
    assertion_id: str
    expires_at: dt.datetime


def response_verify(
    config: SPConfig, *, saml_response: str, outstanding: dict[str, str], groups_attr: str
) -> SamlIdentity:
    """Verify a posted SAMLResponse (signature, audience, time window, InResponseTo)."""
    client = Saml2Client(config=config)
    try:
        base64.b64decode(saml_response, validate=False)
        response = client.parse_authn_request_response(
            saml_response, BINDING_HTTP_POST, outstanding=outstanding
        )
    except Exception as exc:  # pysaml2 raises many kinds; the audit gets a fixed reason only
        reason = _reason(exc)
        if type(exc).__name__ == "VerificationError":
            reason = _condition_reason(saml_response, config.entityid)
        raise SamlError(reason) from exc
    if response is None or response.assertion is None:
        raise SamlError("no_assertion")
    ava = response.ava or {}
    groups: list[str] = []
    for name in (groups_attr, *GROUP_ATTRIBUTES):
        if ava.get(name):
            groups = [str(g) for g in ava[name]]
            break
    email = ""
    for name in ("email", "mail", "emailAddress"):
        if ava.get(name):
            email = str(ava[name][0])
            break
    name_id = response.name_id.text if response.name_id is not None else ""
    if not email and "@" in (name_id or ""):
        email = name_id
    not_on_or_after = response.not_on_or_after or 0
    return SamlIdentity(
        subject=name_id,
        email=email,
        groups=groups,
        assertion_id=response.assertion.id,
        expires_at=dt.datetime.fromtimestamp(not_on_or_after or 0, tz=dt.UTC)
        if not_on_or_after
        else dt.datetime.now(tz=dt.UTC) + dt.timedelta(hours=1),
    )


def _reason(exc: Exception) -> str:
    name = type(exc).__name__
    text = str(exc).lower()
    if "signature" in name.lower() or "signature" in text:
        return "bad_signature"
    if "audience" in text or "audience" in name.lower():
        return "wrong_audience"
    if (
        "too old" in text
        or "expired" in text
        or "timeout" in name.lower()
        or "not_on_or_after" in text
    ):
        return "expired"
    if "unsolicited" in name.lower() or "unsolicited" in text:
        return "unsolicited"
    return "invalid_response"


def _condition_reason(saml_response: str, sp_entity_id: str) -> str:
    """Which condition failed (pysaml2 says only "Condition not OK"); read from the response
    pysaml2 already refused, for the audit reason only, never to accept anything."""
    from saml2 import samlp
    from saml2.time_util import str_to_time

    try:
        response = samlp.response_from_string(base64.b64decode(saml_response).decode())
        conditions = response.assertion[0].conditions
        not_after = conditions.not_on_or_after if conditions is not None else None
        if not_after and calendar.timegm(str_to_time(not_after)) < time.time():
            return "expired"
        audiences = [
            a.text
            for r in (conditions.audience_restriction if conditions else [])
            for a in r.audience
        ]
        if audiences and sp_entity_id not in audiences:
            return "wrong_audience"
    except Exception:  # noqa: S110 - a classification only
        pass
    return "conditions_failed"
