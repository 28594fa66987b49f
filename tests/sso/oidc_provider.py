"""A real, tiny OpenID provider for tests (and `python -m tests.sso.oidc_provider`):
discovery, JWKS, an authorization endpoint that signs in a configured user at once, and a token
endpoint checking the client secret and PKCE, issuing ID tokens signed with joserfc (RS256)."""

from __future__ import annotations

import base64
import hashlib
import http.server
import json
import secrets
import threading
import time
import urllib.parse
from typing import Any

from joserfc import jwt
from joserfc.jwk import RSAKey

TEST_CLIENT_SECRET = "s3cret-client"


class OidcProvider:
    def __init__(
        self,
        *,
        client_id: str = "custodia",
        client_secret: str = TEST_CLIENT_SECRET,
        port: int = 0,
    ):
        self.client_id = client_id
        self.client_secret = client_secret
        self.key = RSAKey.generate_key(2048, parameters={"kid": "k1"})
        self.user: dict[str, Any] = {
            "sub": "u-1",
            "email": "alice@corp.example",
            "groups": ["privacy-officers"],
        }
        self.tamper: dict[str, Any] = {}  # claim overrides for the next tokens (tests)
        self.sign_with: RSAKey | None = None  # another key: a bad signature
        self.codes: dict[str, dict] = {}
        self.token_requests = 0
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        self.issuer = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> OidcProvider:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def discovery(self) -> dict:
        return {
            "issuer": self.issuer,
            "authorization_endpoint": f"{self.issuer}/authorize",
            "token_endpoint": f"{self.issuer}/token",
            "jwks_uri": f"{self.issuer}/jwks",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "code_challenge_methods_supported": ["S256"],
        }

    def authorize(self, params: dict[str, str]) -> str:
        """Sign in `self.user`: return the redirect URL back to the client with a code."""
        assert params["client_id"] == self.client_id
        assert params["code_challenge_method"] == "S256"
        code = secrets.token_urlsafe(16)
        self.codes[code] = {
            "challenge": params["code_challenge"],
            "nonce": params.get("nonce", ""),
            "redirect_uri": params["redirect_uri"],
            "user": dict(self.user),
        }
        query = urllib.parse.urlencode({"code": code, "state": params["state"]})
        return f"{params['redirect_uri']}?{query}"

    def id_token(self, grant: dict) -> str:
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "aud": self.client_id,
            "iat": now,
            "exp": now + 300,
            "nonce": grant["nonce"],
            **grant["user"],
            **self.tamper,
        }
        return jwt.encode({"alg": "RS256", "kid": "k1"}, claims, self.sign_with or self.key)

    def token(self, form: dict[str, str]) -> tuple[int, dict]:
        self.token_requests += 1
        grant = self.codes.pop(form.get("code", ""), None)
        if grant is None or form.get("client_secret") != self.client_secret:
            return 400, {"error": "invalid_grant"}
        verifier = form.get("code_verifier", "")
        digest = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
        if digest.rstrip(b"=").decode() != grant["challenge"]:
            return 400, {"error": "invalid_grant", "error_description": "PKCE"}
        if form.get("redirect_uri") != grant["redirect_uri"]:
            return 400, {"error": "invalid_grant"}
        return 200, {"access_token": "at", "token_type": "Bearer", "id_token": self.id_token(grant)}

    def _handler(self):
        provider = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _json(self, status: int, body: Any) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                url = urllib.parse.urlsplit(self.path)
                if url.path == "/.well-known/openid-configuration":
                    return self._json(200, provider.discovery())
                if url.path == "/jwks":
                    return self._json(200, {"keys": [provider.key.as_dict(private=False)]})
                if url.path == "/authorize":
                    params = dict(urllib.parse.parse_qsl(url.query))
                    self.send_response(302)
                    self.send_header("Location", provider.authorize(params))
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return None
                return self._json(404, {"error": "not_found"})

            def do_POST(self):
                length = int(self.headers.get("Content-Length", "0"))
                form = dict(urllib.parse.parse_qsl(self.rfile.read(length).decode()))
                if self.path == "/token":
                    return self._json(*provider.token(form))
                return self._json(404, {"error": "not_found"})

        return Handler


if __name__ == "__main__":  # a test IdP for docs/sso.md: python -m tests.sso.oidc_provider
    import argparse

    parser = argparse.ArgumentParser(description="A test OpenID provider for Custodia's SSO")
    parser.add_argument("--port", type=int, default=9400)
    idp = OidcProvider(port=parser.parse_args().port).start()
    print(f"issuer={idp.issuer} client_id={idp.client_id} client_secret={idp.client_secret}")
    print("signs in", idp.user)
    threading.Event().wait()
