"""API v2: `{"data": ..., "meta": {"api_version", "request_id"}}`, and lists with cursor pagination
(`pagination`: next_cursor, prev_cursor, page_size, has_more; no COUNT(*) unless `?include=total`).

The resources inside `data` are those of v1: no per-resource change yet.
"""

from common.api_versions.base import ApiVersion

VERSION = ApiVersion(number="2", envelope=True, paginator="common.pagination.CursorPagination")
