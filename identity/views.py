"""The OAuth2 token endpoint: django-oauth-toolkit's TokenView behind a per-address rate limit."""

import json

from django.http import HttpResponse
from django.utils.decorators import method_decorator
from django.views.decorators.csrf import csrf_exempt
from oauth2_provider.views import TokenView

from common.throttling import OAuthTokenThrottle


@method_decorator(csrf_exempt, name="dispatch")
class ThrottledTokenView(TokenView):
    """POST /o/token/; over the limit, 429 with Retry-After in RFC 6749's error shape (what OAuth2 clients parse)."""

    def post(self, request, *args, **kwargs):
        throttle = OAuthTokenThrottle()
        if not throttle.allow_request(request, self):
            wait = int(throttle.wait() or 1)
            body = {
                "error": "temporarily_unavailable",
                "error_description": f"Too many token requests; retry in {wait} s.",
            }
            response = HttpResponse(json.dumps(body), status=429, content_type="application/json")
            response["Retry-After"] = str(wait)
            response["Cache-Control"] = "no-store"
            return response
        return super().post(request, *args, **kwargs)
