from django.contrib import admin, messages
from oauth2_provider.admin import ApplicationAdmin as ToolkitApplicationAdmin

from identity import services
from identity.models import ApiToken, OAuthClient


class ApplicationAdmin(ToolkitApplicationAdmin):
    """django-oauth-toolkit's Application admin (OAUTH2_PROVIDER["APPLICATION_ADMIN_CLASS"]) without the secret.

    The add form shows a generated secret once (it is hashed on save); a saved application's form hides the
    field, since it holds only the hash and an edit there could replace it unnoticed.
    """

    def get_exclude(self, request, obj=None):
        exclude = tuple(super().get_exclude(request, obj) or ())
        return (*exclude, "client_secret") if obj is not None else exclude


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Personal API tokens as metadata (the hash is never shown); revoking needs the change permission."""

    list_display = ("prefix", "name", "user", "scope", "project", "expires_at", "last_used_at", "revoked_at")
    list_filter = ("scope", "revoked_at")
    search_fields = ("prefix", "name")
    list_select_related = ("user", "project")
    raw_id_fields = ("user", "project")
    fields = ("id", "prefix", "name", "user", "scope", "project", "created_at", "expires_at", "last_used_at")
    readonly_fields = fields
    actions = ["revoke_selected"]

    def has_add_permission(self, request):
        return False  # tokens are created by their owner through the API, which shows them once

    @admin.action(description="Revoke the selected API tokens", permissions=["change"])
    def revoke_selected(self, request, queryset):
        for token in queryset:
            services.api_token_revoke(token=token, actor=request.user, reason="admin")
        self.message_user(request, f"{queryset.count()} token(s) revoked.", messages.SUCCESS)


@admin.register(OAuthClient)
class OAuthClientAdmin(admin.ModelAdmin):
    """Project OAuth2 clients; the secret lives hashed in the Application and is never shown here."""

    list_display = ("name", "project", "scope", "client_id", "created_by", "created_at")
    list_filter = ("scope",)
    search_fields = ("name", "application__client_id")
    list_select_related = ("project", "application", "created_by")
    fields = ("id", "name", "project", "scope", "client_id", "created_by", "created_at")
    readonly_fields = fields

    def has_add_permission(self, request):
        return False  # created by project admins through the API (secret shown once)

    def delete_model(self, request, obj):
        services.oauth_client_remove(client=obj, reason="admin")

    def delete_queryset(self, request, queryset):
        for client in queryset.select_related("application"):
            services.oauth_client_remove(client=client, reason="admin")
