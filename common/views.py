"""Error views: problem+json under /api/, Django's defaults elsewhere (admin, docs)."""

from django.views import defaults

from common.exceptions import problem_response, server_error_response


def _is_api(request) -> bool:
    return request.path.startswith("/api/")


def api_not_found(request, *args, **kwargs):
    """Catch-all for unknown /api/ paths, so that even DEBUG never answers with an HTML page."""
    return problem_response(404, "No resource at this address.", code="not_found")


def handler404(request, exception=None):
    if _is_api(request):
        return api_not_found(request)
    return defaults.page_not_found(request, exception)


def handler500(request):
    if _is_api(request):
        return server_error_response()
    return defaults.server_error(request)
