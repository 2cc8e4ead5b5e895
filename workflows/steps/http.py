"""http: one HTTP request to an outside service, through the SSRF guard (workflows.netguard).

Output: ``{"status_code", "headers", "json", "text"}``. Request headers never reach the output or error
messages: values of credential-like request headers are scrubbed from the response text, and credential-like
response headers (Set-Cookie, Authorization, tokens) are dropped.
"""

import json
import re
import time

import httpx
from django.conf import settings
from jinja2 import TemplateSyntaxError, nodes

from common.redaction import MARKER, KeyRule, Redactor, is_credential_name
from workflows import netguard
from workflows.steps.base import ConfigErrors, StepError, StepType
from workflows.steps.transport import read_capped, retry_after_seconds
from workflows.templating import is_template
from workflows.templating.sandbox import parse

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD")
MAX_REDIRECTS = 5
REDIRECT_STATUSES = (301, 302, 303, 307, 308)
TEXT_MAX_CHARS = 65_536
ERROR_BODY_CHARS = 300
FORBIDDEN_REQUEST_HEADERS = frozenset({"host", "content-length", "transfer-encoding", "connection"})
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
USER_AGENT = "aiassistant-api-workflows/1"


# --- credentials in definitions ------------------------------------------------------------------------------------
# A definition is read by every member of the project and kept in every version: a credential written into it
# leaks to all of them. Credential headers and URL user info must take their value from a template (a project
# secret, {{ secrets.NAME }}); the literal text around it may only be an auth scheme or a cookie name.
CREDENTIAL_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "x-api-key"})
_CREDENTIAL_HEADER_WORDS = re.compile(r"token|secret|key", re.IGNORECASE)
# What literal text may surround the templates of a credential: separators, then one word followed by a space
# ("Bearer ") or "=" ("session=").
_ALLOWED_LITERAL = re.compile(r"^[\s;,]*(?:[A-Za-z][\w.-]{0,31}(?:\s+|=))?$")
# String constants inside a template this long may be a credential ({{ "sk-live-..." }}); shorter ones join parts.
_LONG_CONSTANT = 8
_AUTHORITY = re.compile(r"^\s*[A-Za-z][A-Za-z0-9+.-]*://(?P<authority>[^/?#]*)")
CREDENTIAL_ADVICE = (
    "a credential must not be written into a definition (every project member and every version can read it): "
    "store it as a project secret (POST /api/v1/projects/{id}/secrets/) and write {{ secrets.NAME }} here"
)


def is_credential_header(name: str) -> bool:
    """Authorization, Proxy-Authorization, Cookie, X-Api-Key, and any header whose name has token, secret or key."""
    return name.lower() in CREDENTIAL_HEADERS or bool(_CREDENTIAL_HEADER_WORDS.search(name))


def _has_literal_credential(value: str) -> bool:
    """Whether text holds a credential typed literally, outside (or as a long constant inside) its templates."""
    if not value:
        return False
    if not is_template(value):
        return not _ALLOWED_LITERAL.match(value)
    try:
        ast = parse(value)
    except TemplateSyntaxError:
        return False  # reported as a syntax error
    if any(not _ALLOWED_LITERAL.match(data.data) for data in ast.find_all(nodes.TemplateData)):
        return True
    keys = {id(node.arg) for node in ast.find_all(nodes.Getitem)}
    return any(
        isinstance(const.value, str) and len(const.value) >= _LONG_CONSTANT and id(const) not in keys
        for const in ast.find_all(nodes.Const)
    )


def _userinfo_secret(url: str) -> tuple[str, str] | None:
    """(user info, its credential part: the password, else the user) of a URL written with user info."""
    match = _AUTHORITY.match(url)
    if match is None or "@" not in match["authority"]:
        return None
    userinfo = match["authority"].rsplit("@", 1)[0]
    user, colon, password = userinfo.partition(":")
    return userinfo, (password if colon else user)


def literal_credentials(config: dict) -> list[str]:
    """Paths (relative to the step) of the credentials an http config holds literally."""
    found = []
    headers = config.get("headers")
    if isinstance(headers, dict):
        for name, value in headers.items():
            if isinstance(value, str) and is_credential_header(name) and _has_literal_credential(value):
                found.append(f"config.headers.{name}")
    url = config.get("url")
    if isinstance(url, str):
        userinfo = _userinfo_secret(url)
        if userinfo is not None and _has_literal_credential(userinfo[1]):
            found.append("config.url")
    return found


def scrub_literal_credentials(config: dict) -> int:
    """Replace the literal credentials of an http config by the redaction marker (the data migration); returns how
    many were replaced."""
    paths = literal_credentials(config)
    for path in paths:
        if path == "config.url":
            userinfo = _userinfo_secret(config["url"])[0]  # type: ignore[index]
            config["url"] = config["url"].replace(f"{userinfo}@", "%5Bredacted%5D@", 1)
        else:
            config["headers"][path.removeprefix("config.headers.")] = MARKER
    return len(paths)


def _safe_url(url: httpx.URL) -> str:
    """The URL without user info, query or fragment (they may hold credentials)."""
    port = f":{url.port}" if url.port else ""
    host = f"[{url.host}]" if ":" in url.host else url.host
    return f"{url.scheme}://{host}{port}{url.path}"


def _url_problem(value: str) -> str | None:
    try:
        url = httpx.URL(value)
    except (httpx.InvalidURL, TypeError, ValueError):
        return "is not a valid URL"
    if url.scheme not in ("http", "https"):
        return "must be an http or https URL"
    if not url.host:
        return "must include a host"
    return None


class HttpStep(StepType):
    """An HTTP request; non-2xx fails unless listed in accept_status (429 and 5xx are retryable)."""

    name = "http"
    default_retry = {"max_attempts": 1, "backoff_seconds": 0.0}

    def config_errors(self, config: dict, *, rendered: bool) -> dict[str, list[str]]:
        check = ConfigErrors(config, rendered=rendered)
        check.unknown_keys(
            {"method", "url", "headers", "query", "json", "body", "accept_status", "follow_redirects", "timeout"}
        )
        method = config.get("method", "GET")
        if not check.is_unrendered_template(method) and (not isinstance(method, str) or method.upper() not in METHODS):
            check.add("config.method", f"must be one of {', '.join(METHODS)}")
        check.string("url", required=True)
        url = config.get("url")
        if isinstance(url, str) and not check.is_unrendered_template(url):
            problem = _url_problem(url)
            if problem:
                check.add("config.url", problem)
        check.string_map("headers")
        headers = config.get("headers")
        if isinstance(headers, dict):
            for name in headers:
                if not _HEADER_NAME.match(name):
                    check.add(f"config.headers.{name}", "is not a valid header name")
                elif name.lower() in FORBIDDEN_REQUEST_HEADERS:
                    check.add(f"config.headers.{name}", "is set by the client and cannot be overridden")
        check.string_map("query", value_kinds=(str, int, float), kinds_label="strings or numbers")
        if "json" in config and "body" in config:
            check.add("config.body", "give json or body, not both")
        check.string("body")
        self._check_accept_status(check)
        redirects = config.get("follow_redirects", False)
        if not check.is_unrendered_template(redirects) and not isinstance(redirects, bool):
            check.add("config.follow_redirects", "must be true or false")
        check.number("timeout", minimum=1, maximum=300)
        if not rendered:
            for path in literal_credentials(config):
                check.add(path, CREDENTIAL_ADVICE)
        return check.errors

    @staticmethod
    def _check_accept_status(check: ConfigErrors) -> None:
        value = check.config.get("accept_status")
        if "accept_status" not in check.config or check.is_unrendered_template(value):
            return
        if not isinstance(value, list):
            check.add("config.accept_status", "must be a list of HTTP status codes")
            return
        for index, status in enumerate(value):
            if check.is_unrendered_template(status):
                continue
            if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
                check.add(f"config.accept_status[{index}]", "must be an HTTP status code (100 to 599)")

    def run(self, *, config: dict, timeout: float) -> dict:
        self.check_rendered(config)
        if "timeout" in config:
            timeout = min(timeout, float(config["timeout"]))
        deadline = time.monotonic() + timeout
        method = config.get("method", "GET").upper()
        headers = {"User-Agent": USER_AGENT, **config.get("headers", {})}
        # Values of credential headers are replaced wherever the response echoes them.
        scrub = Redactor(
            (value for name, value in headers.items() if is_credential_name(name)), keys=KeyRule.NONE, patterns=False
        )
        query = {key: str(value) for key, value in config.get("query", {}).items()}
        url = httpx.URL(config["url"]).copy_merge_params(query) if query else httpx.URL(config["url"])
        content = config.get("body")
        json_body = config.get("json") if "json" in config else None
        has_json = "json" in config
        follow = config.get("follow_redirects", True)
        accepted = set(config.get("accept_status", []))

        for hop in range(MAX_REDIRECTS + 1):
            response, body = self._send(
                method, url, headers, content, json_body, has_json, deadline=deadline, timeout=timeout, scrub=scrub
            )
            location = response.headers.get("location")
            if not (follow and response.status_code in REDIRECT_STATUSES and location):
                break
            if hop == MAX_REDIRECTS:
                raise StepError(f"too many redirects (more than {MAX_REDIRECTS}) starting at {_safe_url(url)}")
            try:
                next_url = url.join(location)
            except httpx.InvalidURL:
                raise StepError(f"invalid redirect location from {_safe_url(url)}") from None
            if next_url.scheme not in ("http", "https"):
                raise StepError(f"refused: redirect from {_safe_url(url)} to a non-http URL")
            if (next_url.scheme, next_url.host, next_url.port) != (url.scheme, url.host, url.port):
                # Like browsers and httpx: credentials are not forwarded to another origin.
                headers = {name: value for name, value in headers.items() if not is_credential_name(name)}
            if response.status_code == 303 or (response.status_code in (301, 302) and method == "POST"):
                method = "GET" if method != "HEAD" else method
                content, json_body, has_json = None, None, False
            url = next_url

        status = response.status_code
        text = scrub.text(self._decode(response, body))
        if not (200 <= status < 300 or status in accepted):
            retryable = status == 429 or status >= 500
            snippet = " ".join(text[:ERROR_BODY_CHARS].split())
            raise StepError(
                f"HTTP {status} from {_safe_url(url)}" + (f": {snippet}" if snippet else ""),
                retryable=retryable,
                retry_after_seconds=retry_after_seconds(response) if retryable else None,
            )
        return {
            "status_code": status,
            "headers": scrub.value(self._output_headers(response)),
            "json": scrub.value(self._json(response, body, text)),
            "text": text[:TEXT_MAX_CHARS],
        }

    def _send(self, method, url, headers, content, json_body, has_json, *, deadline, timeout, scrub):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise StepError(f"timed out after {timeout:g}s ({method} {_safe_url(url)})", retryable=True)
        try:
            target = netguard.resolve(url.host, url.port or (443 if url.scheme == "https" else 80))
        except netguard.RefusedAddress as exc:
            raise StepError(str(exc)) from None
        except netguard.ResolutionError as exc:
            raise StepError(str(exc), retryable=exc.transient) from None
        max_bytes = settings.WORKFLOW_HTTP_MAX_RESPONSE_BYTES
        kwargs = {"json": json_body} if has_json else {"content": content}
        try:
            with httpx.Client(
                transport=netguard.PinnedTransport(target),
                timeout=httpx.Timeout(remaining),
                follow_redirects=False,
                trust_env=False,
            ) as client:
                request = client.build_request(method, url, headers=headers, **kwargs)
                response = client.send(request, stream=True)
                try:
                    body = read_capped(
                        response,
                        max_bytes,
                        too_large=f"response from {_safe_url(url)} is larger than {max_bytes} bytes",
                        deadline=deadline,
                        timed_out=f"timed out after {timeout:g}s ({method} {_safe_url(url)})",
                    )
                finally:
                    response.close()
        except httpx.TimeoutException:
            raise StepError(f"timed out after {timeout:g}s ({method} {_safe_url(url)})", retryable=True) from None
        except (httpx.TransportError, httpx.DecodingError) as exc:
            detail = scrub.text(str(exc))[:200] or type(exc).__name__
            # A certificate that does not verify will not verify on the next attempt either.
            tls_refused = "CERTIFICATE_VERIFY_FAILED" in str(exc)
            retryable = isinstance(exc, httpx.NetworkError | httpx.RemoteProtocolError) and not tls_refused
            raise StepError(f"request to {_safe_url(url)} failed: {detail}", retryable=retryable) from None
        return response, body

    @staticmethod
    def _decode(response: httpx.Response, body: bytes) -> str:
        try:
            return body.decode(response.charset_encoding or "utf-8", errors="replace")
        except LookupError:
            return body.decode("utf-8", errors="replace")

    @staticmethod
    def _json(response: httpx.Response, body: bytes, text: str):
        if not body or "json" not in response.headers.get("content-type", "").lower():
            return None
        try:
            return json.loads(text)
        except ValueError:
            return None

    @staticmethod
    def _output_headers(response: httpx.Response) -> dict[str, str]:
        headers: dict[str, str] = {}
        for name, value in response.headers.multi_items():
            name = name.lower()
            if is_credential_name(name):
                continue
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
        return headers


step_type = HttpStep()
