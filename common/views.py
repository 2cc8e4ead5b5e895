"""The home page, and the error views: problem+json under /api/, Django's defaults elsewhere (admin, docs)."""

from django.shortcuts import render
from django.views import csrf, defaults
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_safe

from common.exceptions import problem_response, server_error_response


@require_safe
def home(request):
    """`/`: where the API docs, the admin and the health endpoints are (public, touches no database)."""
    return render(request, "common/home.html")


def _is_api(request) -> bool:
    return request.path.startswith("/api/")


@csrf_exempt  # an unknown path answers 404 whatever the method (a POST must not get Django's CSRF page)
def api_not_found(request, *args, **kwargs):
    """Catch-all for unknown /api/ paths, so that even DEBUG never answers with an HTML page."""
    return problem_response(404, "No resource at this address.", code="not_found")


def handler400(request, exception=None):
    """A request Django refuses before any view (a Host not in ALLOWED_HOSTS, a suspicious operation): under /api/
    a problem+json like every other API error (schemathesis found Django's HTML page there)."""
    if _is_api(request):
        return problem_response(400, "The request is malformed.", code="bad_request")
    return defaults.bad_request(request, exception)


def handler404(request, exception=None):
    if _is_api(request):
        return api_not_found(request)
    return defaults.page_not_found(request, exception)


def handler500(request):
    if _is_api(request):
        return server_error_response()
    return defaults.server_error(request)


def csrf_failure(request, reason=""):
    """CSRF_FAILURE_VIEW: problem+json under /api/ (the API uses tokens, not cookies); Django's page elsewhere."""
    if _is_api(request):
        return problem_response(403, "CSRF verification failed.", code="csrf_failed")
    return csrf.csrf_failure(request, reason=reason)
