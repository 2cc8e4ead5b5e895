from django.urls import path

from identity.api import views

token_list = views.ApiTokenViewSet.as_view({"get": "list", "post": "create"})
token_detail = views.ApiTokenViewSet.as_view({"delete": "destroy"})
client_list = views.OAuthClientViewSet.as_view({"get": "list", "post": "create"})
client_detail = views.OAuthClientViewSet.as_view({"delete": "destroy"})

# Mounted by config/api_urls.py: the tokens under auth/, the clients under a project.
token_urlpatterns = [
    path("", token_list, name="api-token-list"),
    path("<uuid:pk>/", token_detail, name="api-token-detail"),
]
client_urlpatterns = [
    path("", client_list, name="oauth-client-list"),
    path("<uuid:pk>/", client_detail, name="oauth-client-detail"),
]
