"""A per-user read cache of API list responses in the shared cache (Redis), dropped by generation.

Each user has a generation: a random token under `readcache:{namespace}:gen:{user}`. A cached body lives under a
key made of the namespace, the user and a digest of what else shapes the body (the API version, the absolute URL
with its query string, the project a bound credential is limited to), stored together with the generation it was
computed under. So no user is ever served another's entry (the user id is in the key), and `forget()` drops every
entry of a user at once by deleting the generation: an entry counts only while its generation is the current one.
A read asks for both keys in one round trip (`get_many`).

Race-free against writes: a read takes the generation before it queries; a writer deletes it after its
transaction commits (and once before, as accounts.tokens.forget_user does). A read that saw the old data stored it
with a generation that no longer exists.

Like the JWT user cache (accounts.tokens), it is on only with the shared Redis cache (settings: the namespace's
`*_CACHE_SECONDS`, 0 by default without REDIS_URL): a per-process cache could not be told by another process that
something changed.
"""

import hashlib
import uuid
from collections.abc import Callable, Iterable

from django.core.cache import cache
from django.db import transaction
from rest_framework.response import Response

from common.grants import bound_project

GENERATION_KEY = "readcache:{namespace}:gen:{user}"
ENTRY_KEY = "readcache:{namespace}:{user}:entry:{digest}"  # its value: (generation, body)
GENERATION_SECONDS = 24 * 3600  # its expiry only drops entries: they expire sooner


def _digest(request) -> str:
    shape = "\n".join(
        (str(request.version), request.build_absolute_uri(), str(bound_project(request.user) or "")),
    )
    return hashlib.sha256(shape.encode()).hexdigest()[:32]


def cached_list(request, *, namespace: str, seconds: int, compute: Callable[[], Response]) -> Response:
    """The response of `compute()` (a paginated list of the caller's), from the cache while it is fresh."""
    user = request.user
    if not seconds or not getattr(user, "is_authenticated", False):
        return compute()
    generation_key = GENERATION_KEY.format(namespace=namespace, user=user.pk)
    entry_key = ENTRY_KEY.format(namespace=namespace, user=user.pk, digest=_digest(request))
    found = cache.get_many([generation_key, entry_key])
    generation, entry = found.get(generation_key), found.get(entry_key)
    if entry is not None and entry[0] == generation:  # an entry is only ever stored with a generation
        response = Response(entry[1])
        response.paginated = True  # type: ignore[attr-defined]  # as common.api.PaginatedListMixin marks it
        return response
    if generation is None:
        cache.add(generation_key, uuid.uuid4().hex, GENERATION_SECONDS)  # add: of two first readers, one wins
        generation = cache.get(generation_key)  # None: the cache lost it again at once; nothing is stored then
    response = compute()
    if response.status_code == 200 and generation is not None:
        cache.set(entry_key, (generation, response.data), seconds)
    return response


def forget(namespace: str, user_ids: Iterable) -> None:
    """Drop every cached entry of these users in `namespace`, now and again once the current transaction commits."""
    keys = [GENERATION_KEY.format(namespace=namespace, user=user_id) for user_id in set(user_ids)]
    if not keys:
        return
    cache.delete_many(keys)
    transaction.on_commit(lambda: cache.delete_many(keys))
