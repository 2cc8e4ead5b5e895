"""API versions. Views, services and selectors are written once, for the current representation; a version is a
small module (v1.py, v2.py) that says how its responses differ from it: envelope, paginator, per-resource changes.
Adding a version is a module, one line in VERSIONS and its tests (docs/api-versioning.md).

How a request gets its version (ApiVersionMiddleware): the path (`/api/v1/`, `/api/v2/`), or for `/api/<resource>`
the `API-Version` header or `Accept: application/json; version=N`; the default is DEFAULT.
"""

from common.api_versions import v1, v2
from common.api_versions.base import ApiVersion

VERSIONS: dict[str, ApiVersion] = {version.number: version for version in (v1.VERSION, v2.VERSION)}
DEFAULT = "1"
LATEST = max(VERSIONS, key=int)


def get(number: str | None) -> ApiVersion:
    """The version a request negotiated (the default for a request outside the API)."""
    return VERSIONS[number or DEFAULT]


__all__ = ["DEFAULT", "LATEST", "VERSIONS", "ApiVersion", "get"]
