"""A SAML 2.0 identity provider for tests, built with pysaml2: it signs real assertions
(xmlsec1) for the hub's SP, with a key pair generated per test session."""

from __future__ import annotations

import base64
import datetime as dt
import shutil
import tempfile
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from saml2 import BINDING_HTTP_REDIRECT
from saml2.config import IdPConfig
from saml2.saml import NAMEID_FORMAT_PERSISTENT, NameID
from saml2.server import Server

ENTITY_ID = "https://idp.test/saml/metadata"
SSO_URL = "https://idp.test/saml/sso"


def key_pair(directory: Path, name: str) -> tuple[Path, Path, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test idp")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    key_path, cert_path = directory / f"{name}.key", directory / f"{name}.crt"
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    pem = cert.public_bytes(serialization.Encoding.PEM)
    cert_path.write_bytes(pem)
    return key_path, cert_path, pem.decode()


class SamlIdp:
    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="custodia-saml-idp-"))
        self.key, self.cert, self.certificate = key_pair(self.dir, "idp")
        self.other_key, self.other_cert, _ = key_pair(self.dir, "other")

    def server(self, sp_metadata: str, *, lifetime_minutes: int = 5, other_key: bool = False):
        conf = {
            "entityid": ENTITY_ID,
            "xmlsec_binary": shutil.which("xmlsec1"),
            "key_file": str(self.other_key if other_key else self.key),
            "cert_file": str(self.other_cert if other_key else self.cert),
            "service": {
                "idp": {
                    "endpoints": {"single_sign_on_service": [(SSO_URL, BINDING_HTTP_REDIRECT)]},
                    "policy": {"default": {"lifetime": {"minutes": lifetime_minutes}}},
                }
            },
            "metadata": {"inline": [sp_metadata]},
        }
        config = IdPConfig()
        config.load(conf)
        return Server(config=config)

    def response(
        self,
        sp_metadata: str,
        *,
        acs_url: str,
        sp_entity_id: str,
        subject: str = "saml-u-1",
        email: str = "erin@corp.example",
        groups: tuple[str, ...] = ("privacy-officers",),
        in_response_to: str | None = None,
        lifetime_minutes: int = 5,
        other_key: bool = False,
    ) -> str:
        """A base64 SAMLResponse with a signed assertion, as the IdP would POST it."""
        server = self.server(sp_metadata, lifetime_minutes=lifetime_minutes, other_key=other_key)
        response = server.create_authn_response(
            identity={"email": [email], "groups": list(groups)},
            in_response_to=in_response_to,
            destination=acs_url,
            sp_entity_id=sp_entity_id,
            name_id=NameID(format=NAMEID_FORMAT_PERSISTENT, text=subject),
            authn={"class_ref": "urn:oasis:names:tc:SAML:2.0:ac:classes:Password"},
            sign_assertion=True,
            sign_response=False,
        )
        return base64.b64encode(str(response).encode()).decode()
