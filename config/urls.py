from django.contrib import admin
from django.urls import include, path, re_path

from common.views import api_not_found

admin.site.site_header = "aiassistant-api administration"
admin.site.site_title = "aiassistant-api"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", include("config.api_urls", namespace="v1")),
    re_path(r"^api/", api_not_found),
]

handler404 = "common.views.handler404"
handler500 = "common.views.handler500"
