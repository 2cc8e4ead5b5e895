"""Sign-in lockout (django-axes): the one module of accounts that knows axes.

Axes counts failed sign-ins in the shared cache, per account and per client address (AXES_LOCKOUT_PARAMETERS),
for the admin's login form and the API's login alike (both go through django.contrib.auth.authenticate with the
request, and AxesStandaloneBackend comes first in AUTHENTICATION_BACKENDS). Once either count reaches
AXES_FAILURE_LIMIT, every attempt (right password or not) is refused until AXES_COOLOFF_TIME has passed since
the lockout. The client address is common.http.client_ip (AXES_CLIENT_IP_CALLABLE), as for throttling and audit.
"""

from django.conf import settings
from django.http import HttpResponse

from audit import keys as audit_keys
from audit import recording as audit
from audit.models import Category

LOCKOUT = "auth.lockout"
LOCKED_MESSAGE = "Too many failed sign-ins for this account or from this address; try again later."


def username(request, credentials: dict | None) -> str | None:
    """AXES_USERNAME_CALLABLE: the attempted email, normalised as sign-in does (the admin form posts `username`)."""
    from accounts.models import User

    credentials = credentials or {}
    value = credentials.get("email") or credentials.get("username")
    if value is None and request is not None:
        data = getattr(request, "data", None) or getattr(request, "POST", None)
        if data is not None and hasattr(data, "get"):
            value = data.get("email") or data.get("username")
    if not isinstance(value, str) or not value:
        return None
    return User.objects.normalize_email(value).lower()


def locked_out(request) -> bool:
    """True when axes refused (or just locked out) the sign-in attempt made with this request."""
    return bool(getattr(request, "axes_locked_out", False))


def succeeded(request, user) -> None:
    """A sign-in without a session (the API's JWT) tells axes as django.contrib.auth.login does: user_logged_in.

    Axes then forgets that account's and address's failures (AXES_RESET_ON_SUCCESS); Django stamps last_login.
    """
    from django.contrib.auth.signals import user_logged_in

    user_logged_in.send(sender=type(user), request=request, user=user)


def retry_after(request, credentials: dict | None = None) -> int:
    """Seconds until the lockout on this account or address ends (the cool-off when the cache cannot say)."""
    from axes.helpers import get_cache, get_client_cache_keys, get_cool_off

    cool_off = get_cool_off(request)
    default = int(cool_off.total_seconds()) if cool_off else 0
    cache = get_cache()
    ttl = getattr(cache, "ttl", None)  # django-redis has it; other backends do not
    if ttl is None or credentials is None:
        return max(default, 1)
    remaining = [ttl(key) or 0 for key in get_client_cache_keys(request, credentials)]
    return max([value for value in remaining if isinstance(value, int) and value > 0] or [default, 1])


def lockout_response(request, original_response=None, credentials=None) -> HttpResponse:
    """AXES_LOCKOUT_CALLABLE: 429 with Retry-After; problem+json under /api/, a short page for the admin."""
    from common.exceptions import problem_response

    wait = retry_after(request, credentials)
    if request.path.startswith("/api/"):
        if original_response is not None and original_response.status_code == 429:
            return original_response  # the API's own answer (accounts.services.user_login raised it)
        response: HttpResponse = problem_response(429, LOCKED_MESSAGE, code="locked_out")
    else:
        response = HttpResponse(LOCKED_MESSAGE, status=429, content_type="text/plain; charset=utf-8")
    response["Retry-After"] = str(wait)
    return response


def on_locked_out(sender, request=None, username=None, ip_address=None, **kwargs) -> None:
    """axes' user_locked_out signal: one `auth.lockout` audit event when a lockout starts.

    Axes sends the signal again for each attempt refused during the lockout; those are not new lockouts (the
    count that crossed the limit is set only on the attempt that started it).
    """
    if request is None or getattr(request, "axes_failures_since_start", None) is None:
        return
    audit.record(
        Category.AUTH,
        LOCKOUT,
        detail={
            "email_hash": audit_keys.personal(username),
            "failures": request.axes_failures_since_start,
            "limit": settings.AXES_FAILURE_LIMIT,
            "cool_off_seconds": retry_after(request),
            "path": request.path,
        },
    )
