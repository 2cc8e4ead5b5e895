"""A STAND-IN for an OpenID Connect provider (Keycloak, Okta, Entra ID...): none can be installed here, so the SSO
tests run this small HTTP server, which speaks the parts of OpenID Connect Core and Discovery that the product uses,
with real RS256 signatures. It is not an identity provider: it signs in whoever `person` says, without asking.

- discovery: GET /.well-known/openid-configuration (issuer, endpoints, algorithms)
- keys: GET /jwks (the RSA public key, `kid` "standin-1")
- authorization: GET /authorize (code flow; checks client_id, redirect_uri, PKCE S256 challenge) -> 302 to the
  redirect_uri with `code` and `state`
- token: POST /token (authorization_code grant; client secret in the body or HTTP Basic; PKCE verifier; a code
  works once) -> access_token and an RS256 id_token (iss, aud, sub, exp, iat, nonce, and the person's claims)
- userinfo: GET /userinfo (Bearer access token) -> the person's claims

Tests change its behaviour through `person` (who signs in), `id_token_overrides` (claims to replace in the next
id_tokens: a wrong audience, issuer, expiry) and `sign_with_foreign_key` (a signature the JWKS cannot verify).
"""

import base64
import hashlib
import json
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

KID = "standin-1"


def _new_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


class OidcProviderStandIn:
    """The server and its state; `url` is the issuer (and its address); `token_requests` counts code exchanges."""

    def __init__(self, *, client_id: str, client_secret: str, redirect_uris: list[str]):
        self.client_id, self.client_secret, self.redirect_uris = client_id, client_secret, list(redirect_uris)
        self.key, self.foreign_key = _new_key(), _new_key()
        self.person: dict = {}
        self.id_token_overrides: dict = {}
        self.sign_with_foreign_key = False
        self.codes: dict[str, dict] = {}
        self.access_tokens: dict[str, dict] = {}
        self.token_requests = 0
        self.lock = threading.Lock()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.httpd.daemon_threads = True
        self.httpd.standin = self  # type: ignore[attr-defined]
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()

    # -- what the endpoints answer ---------------------------------------------------------------------------------

    def discovery(self) -> dict:
        return {
            "issuer": self.url,
            "authorization_endpoint": f"{self.url}/authorize",
            "token_endpoint": f"{self.url}/token",
            "userinfo_endpoint": f"{self.url}/userinfo",
            "jwks_uri": f"{self.url}/jwks",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
        }

    def jwks(self) -> dict:
        public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
        return {"keys": [{**public, "kid": KID, "alg": "RS256", "use": "sig"}]}

    def authorize(self, query: dict[str, str]) -> tuple[int, str]:
        """(status, Location or error text) for an authorization request."""
        if query.get("client_id") != self.client_id:
            return 400, "unknown client_id"
        if query.get("redirect_uri") not in self.redirect_uris:
            return 400, "redirect_uri not registered"
        if query.get("response_type") != "code" or "openid" not in query.get("scope", "").split():
            return 400, "only the code flow with the openid scope"
        if query.get("code_challenge_method") != "S256" or not query.get("code_challenge"):
            return 400, "PKCE S256 required"
        code = secrets.token_urlsafe(24)
        with self.lock:
            self.codes[code] = {
                "person": dict(self.person),
                "nonce": query.get("nonce"),
                "challenge": query["code_challenge"],
                "redirect_uri": query["redirect_uri"],
            }
        return 302, f"{query['redirect_uri']}?{urlencode({'code': code, 'state': query.get('state', '')})}"

    def token(self, form: dict[str, str], basic: tuple[str, str] | None) -> tuple[int, dict]:
        with self.lock:
            self.token_requests += 1
            grant = self.codes.pop(form.get("code", ""), None)  # a code works once
        client_id, secret = basic or (form.get("client_id"), form.get("client_secret"))
        if client_id != self.client_id or secret != self.client_secret:
            return 401, {"error": "invalid_client"}
        if grant is None or form.get("grant_type") != "authorization_code":
            return 400, {"error": "invalid_grant"}
        if form.get("redirect_uri") != grant["redirect_uri"]:
            return 400, {"error": "invalid_grant", "error_description": "redirect_uri differs"}
        verifier = form.get("code_verifier", "")
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        if challenge != grant["challenge"]:
            return 400, {"error": "invalid_grant", "error_description": "PKCE verifier does not match"}
        person = grant["person"]
        now = int(time.time())
        claims = {
            "iss": self.url,
            "aud": self.client_id,
            "azp": self.client_id,
            "iat": now,
            "exp": now + 300,
            "nonce": grant["nonce"],
            **person,
            **self.id_token_overrides,
        }
        key = self.foreign_key if self.sign_with_foreign_key else self.key
        id_token = jwt.encode(claims, key, algorithm="RS256", headers={"kid": KID})
        access_token = secrets.token_urlsafe(24)
        with self.lock:
            self.access_tokens[access_token] = person
        return 200, {"access_token": access_token, "token_type": "Bearer", "expires_in": 300, "id_token": id_token}

    def userinfo(self, authorization: str) -> tuple[int, dict]:
        person = self.access_tokens.get(authorization.removeprefix("Bearer "))
        return (200, person) if person is not None else (401, {"error": "invalid_token"})


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):  # quiet: the tests' output is theirs
        pass

    @property
    def standin(self) -> OidcProviderStandIn:
        return self.server.standin  # type: ignore[attr-defined]

    def _json(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        url = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        if url.path == "/.well-known/openid-configuration":
            self._json(200, self.standin.discovery())
        elif url.path == "/jwks":
            self._json(200, self.standin.jwks())
        elif url.path == "/authorize":
            status, where = self.standin.authorize(query)
            if status == 302:
                self.send_response(302)
                self.send_header("Location", where)
                self.send_header("Content-Length", "0")
                self.end_headers()
            else:
                self._json(status, {"error": "invalid_request", "error_description": where})
        elif url.path == "/userinfo":
            self._json(*self.standin.userinfo(self.headers.get("Authorization", "")))
        else:
            self._json(404, {"error": "not_found"})

    def do_POST(self):
        if urlsplit(self.path).path != "/token":
            self._json(404, {"error": "not_found"})
            return
        length = int(self.headers.get("Content-Length") or 0)
        form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
        basic = None
        header = self.headers.get("Authorization", "")
        if header.startswith("Basic "):
            user, _, password = base64.b64decode(header.removeprefix("Basic ")).decode().partition(":")
            basic = (user, password)
        self._json(*self.standin.token(form, basic))
