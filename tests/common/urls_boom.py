"""URLconf for error-handling tests: the real API plus views that fail on purpose."""

from django.urls import include, path
from rest_framework.permissions import AllowAny
from rest_framework.views import APIView


class BoomApi(APIView):
    permission_classes = [AllowAny]

    def get(self, request):
        raise RuntimeError("secret internals that must not leak")


urlpatterns = [
    path("api/v1/boom/", BoomApi.as_view()),
    path("", include("config.urls")),
]
