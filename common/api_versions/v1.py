"""API v1, the legacy shape: bare objects, and lists as `{"count", "next", "previous", "results"}` by page number."""

from common.api_versions.base import ApiVersion

VERSION = ApiVersion(number="1", envelope=False, paginator="common.pagination.PageNumberPagination")
