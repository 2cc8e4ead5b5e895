"""A STAND-IN for HashiCorp Vault: no Vault binary can be installed here, so the tests run this small HTTP server,
which speaks the documented endpoints the product uses (the same paths, headers and JSON shapes hvac sends and
expects). It is not Vault: it keeps everything in memory and implements only what is listed below.

- KV v2 read: GET /v1/<mount>/data/<path>
- tokens: GET /v1/auth/token/lookup-self, POST /v1/auth/token/renew-self (X-Vault-Token; a token expires after
  its TTL unless renewed; `refuse_renewal` makes renew-self answer 403)
- AppRole login: POST /v1/auth/approle/login; Kubernetes login: POST /v1/auth/kubernetes/login
- transit: POST /v1/transit/encrypt|decrypt|rewrap/<key>, POST /v1/transit/keys/<key>/rotate
  (ciphertext "vault:v<n>:..." under the key's version n; rewrap moves it to the newest version)
- database: GET /v1/database/creds/<role> creates a REAL, expiring PostgreSQL role on the test server
  (`CREATE ROLE ... LOGIN PASSWORD ... VALID UNTIL`, member of the role that owns the tables), with a lease;
  PUT /v1/sys/leases/renew renews the lease (and, like Vault, leaves VALID UNTIL where it was)
"""

import base64
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import psycopg
from cryptography.fernet import Fernet


@dataclass
class Token:
    ttl: float
    expires: float
    policies: list[str] = field(default_factory=lambda: ["aiassistant"])


class VaultStandIn:
    """The server and its state; `url` is its address, `logins` and `renewals` count what clients did."""

    def __init__(self, *, token_ttl: float = 3600, pg_dsn: str = "", pg_member_of: str = "postgres"):
        self.token_ttl = token_ttl
        self.tokens: dict[str, Token] = {}
        self.kv: dict[str, dict] = {}
        self.approle = {"role_id": "role-" + secrets.token_hex(4), "secret_id": "secret-" + secrets.token_hex(8)}
        self.k8s_roles: dict[str, str] = {}  # role -> accepted service-account JWT
        self.transit_keys: dict[str, list[bytes]] = {}
        self.db_roles: dict[str, float] = {}  # role -> lease ttl
        self.leases: dict[str, dict] = {}
        self.pg_dsn, self.pg_member_of = pg_dsn, pg_member_of
        self.logins = 0
        self.renewals = 0
        self.refuse_renewal = False
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

    # -- state helpers used by tests -----------------------------------------------------------------------------

    def issue_token(self, ttl: float | None = None) -> str:
        token = "hvs." + secrets.token_urlsafe(24)
        ttl = self.token_ttl if ttl is None else ttl
        self.tokens[token] = Token(ttl=ttl, expires=time.monotonic() + ttl)
        return token

    def put_kv(self, mount: str, path: str, data: dict) -> None:
        self.kv[f"{mount}/{path}"] = dict(data)

    def create_transit_key(self, name: str) -> None:
        self.transit_keys[name] = [Fernet.generate_key()]

    def rotate_transit_key(self, name: str) -> None:
        self.transit_keys[name].append(Fernet.generate_key())

    # -- endpoints -----------------------------------------------------------------------------------------------

    def valid(self, token: str | None) -> bool:
        entry = self.tokens.get(token or "")
        return entry is not None and entry.expires > time.monotonic()

    def login(self) -> dict:
        with self.lock:
            self.logins += 1
        token = self.issue_token()
        return {
            "auth": {
                "client_token": token,
                "lease_duration": int(self.token_ttl),
                "renewable": True,
                "policies": ["aiassistant"],
            }
        }

    def database_credentials(self, role: str) -> dict:
        ttl = self.db_roles[role]
        name = f"v-{role}-{secrets.token_hex(4)}"
        password = secrets.token_urlsafe(18)
        until = (datetime.now(tz=UTC) + timedelta(seconds=ttl)).isoformat()
        with psycopg.connect(self.pg_dsn, autocommit=True) as conn:
            statement = f"CREATE ROLE \"{name}\" LOGIN PASSWORD '{password}' VALID UNTIL '{until}'"
            conn.execute(f'{statement} IN ROLE "{self.pg_member_of}"')
        lease_id = f"database/creds/{role}/{secrets.token_hex(6)}"
        self.leases[lease_id] = {"ttl": ttl, "role": name}
        return {
            "lease_id": lease_id,
            "lease_duration": int(ttl),
            "renewable": True,
            "data": {"username": name, "password": password},
        }

    def drop_database_roles(self) -> None:
        with psycopg.connect(self.pg_dsn, autocommit=True) as conn:
            for lease in self.leases.values():
                conn.execute(f'DROP ROLE IF EXISTS "{lease["role"]}"')


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):
        pass

    def _send(self, status: int, body: dict | None = None) -> None:
        data = json.dumps(body or {}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> dict:
        length = int(self.headers.get("Content-Length") or 0)
        return json.loads(self.rfile.read(length) or b"{}")

    def _handle(self):
        vault: VaultStandIn = self.server.standin  # type: ignore[attr-defined]
        path = self.path.split("?", 1)[0].removeprefix("/v1/")
        token = self.headers.get("X-Vault-Token")
        body = self._body() if self.command in ("POST", "PUT") else {}
        if path == "auth/approle/login":
            if (body.get("role_id"), body.get("secret_id")) != (vault.approle["role_id"], vault.approle["secret_id"]):
                return self._send(400, {"errors": ["invalid role or secret ID"]})
            return self._send(200, vault.login())
        if path == "auth/kubernetes/login":
            if vault.k8s_roles.get(body.get("role")) != body.get("jwt"):
                return self._send(403, {"errors": ["permission denied"]})
            return self._send(200, vault.login())
        if not vault.valid(token):
            return self._send(403, {"errors": ["permission denied"]})
        entry = vault.tokens[token]  # type: ignore[index]
        if path == "auth/token/lookup-self":
            ttl = max(0, int(entry.expires - time.monotonic()))
            return self._send(200, {"data": {"ttl": ttl, "policies": entry.policies, "renewable": True}})
        if path == "auth/token/renew-self":
            if vault.refuse_renewal:
                return self._send(403, {"errors": ["permission denied"]})
            with vault.lock:
                vault.renewals += 1
            entry.expires = time.monotonic() + entry.ttl
            return self._send(
                200, {"auth": {"client_token": token, "lease_duration": int(entry.ttl), "renewable": True}}
            )
        for mount_path, data in vault.kv.items():
            mount, _, secret_path = mount_path.partition("/")
            if path == f"{mount}/data/{secret_path}":
                return self._send(200, {"data": {"data": data, "metadata": {"version": 1}}})
        if path.startswith("transit/"):
            return self._transit(vault, path.removeprefix("transit/"), body)
        if path.startswith("database/creds/"):
            role = path.removeprefix("database/creds/")
            if role not in vault.db_roles:
                return self._send(400, {"errors": [f"unknown role: {role}"]})
            return self._send(200, vault.database_credentials(role))
        if path == "sys/leases/renew":
            lease = vault.leases.get(body.get("lease_id"))
            if lease is None:
                return self._send(400, {"errors": ["lease not found"]})
            return self._send(
                200, {"lease_id": body["lease_id"], "lease_duration": int(lease["ttl"]), "renewable": True}
            )
        return self._send(404, {"errors": []})

    def _transit(self, vault: VaultStandIn, path: str, body: dict):
        operation, _, name = path.partition("/")
        if operation == "keys" and name.endswith("/rotate"):
            vault.rotate_transit_key(name.removesuffix("/rotate"))
            return self._send(204)
        versions = vault.transit_keys.get(name)
        if versions is None:
            return self._send(400, {"errors": [f"encryption key not found: {name}"]})

        def encrypt(plaintext: bytes) -> str:
            return f"vault:v{len(versions)}:" + Fernet(versions[-1]).encrypt(plaintext).decode()

        def decrypt(ciphertext: str) -> bytes:
            _, version, token = ciphertext.split(":", 2)
            return Fernet(versions[int(version.removeprefix("v")) - 1]).decrypt(token.encode())

        if operation == "encrypt":
            return self._send(200, {"data": {"ciphertext": encrypt(base64.b64decode(body["plaintext"]))}})
        if operation == "decrypt":
            return self._send(200, {"data": {"plaintext": _b64(decrypt(body["ciphertext"]))}})
        if operation == "rewrap":
            return self._send(200, {"data": {"ciphertext": encrypt(decrypt(body["ciphertext"]))}})
        return self._send(404, {"errors": []})

    do_GET = do_POST = do_PUT = _handle
