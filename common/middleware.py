import logging

from common.exceptions import problem_response

logger = logging.getLogger("aiassistant.errors")


class ApiProblemMiddleware:
    """Unhandled exceptions under /api/ answer 500 problem+json (never a stack trace), even with DEBUG on."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not request.path.startswith("/api/"):
            return None
        logger.exception("Unhandled error on %s %s", request.method, request.path)
        return problem_response(500, "An unexpected error occurred; it has been logged.", code="server_error")
