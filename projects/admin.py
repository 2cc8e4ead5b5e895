from django.contrib import admin

from projects import quotas, services
from projects.models import Invitation, Membership, Project, ProjectSecret
from projects.permissions import OPERATOR


class MembershipInline(admin.TabularInline):
    model = Membership
    fk_name = "project"
    extra = 0
    autocomplete_fields = ["user"]
    readonly_fields = ["created_at", "invited_by"]
    fields = ["user", "role", "invited_by", "created_at"]


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "created_by", "member_count", "created_at")
    search_fields = ("name", "slug")
    list_filter = ("created_at",)
    readonly_fields = ("id", "created_at", "updated_at", "created_by", "quota_use_today")
    prepopulated_fields = {"slug": ("name",)}
    inlines = [MembershipInline]

    @admin.display(description="Quota use today (UTC)")
    def quota_use_today(self, obj):
        if obj.pk is None:
            return "-"
        used = quotas.usage_today(project=obj)
        parts = []
        for quota in (quotas.EXECUTIONS, quotas.LLM_TOKENS):
            maximum = quotas.limit(obj, quota)
            parts.append(f"{used[quota]} of {maximum or 'unlimited'} {quotas.QUOTAS[quota][2]}")
        return "; ".join(parts)

    @admin.display(description="Members")
    def member_count(self, obj):
        return obj.memberships.count()


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ("user", "project", "role", "invited_by", "created_at")
    list_filter = ("role", "created_at")
    search_fields = ("user__email", "project__name", "project__slug")
    list_select_related = ("user", "project", "invited_by")
    autocomplete_fields = ["user", "project"]
    readonly_fields = ("id", "created_at", "updated_at")


@admin.register(ProjectSecret)
class ProjectSecretAdmin(admin.ModelAdmin):
    """Names and metadata only: no field shows the value or its ciphertext, and values are set through the API
    (an admin form would put the value in a page and its history)."""

    list_display = ("name", "project", "created_by", "updated_at", "last_used_at")
    list_filter = ("created_at", "last_used_at")
    search_fields = ("name", "project__name", "project__slug")
    list_select_related = ("project", "created_by")
    fields = ("id", "project", "name", "description", "created_by", "created_at", "updated_at", "last_used_at")
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).defer("ciphertext")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        # Viewing only (staff with the view permission); deleting stays available to who may delete.
        return False

    def delete_model(self, request, obj):
        services.project_secret_delete(secret=obj, role=OPERATOR, actor=request.user)

    def delete_queryset(self, request, queryset):
        for secret in queryset:
            services.project_secret_delete(secret=secret, role=OPERATOR, actor=request.user)


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    """Read only: invitations are made, revoked and accepted through the API's services (mail, audit, rules)."""

    list_display = ("email", "project", "role", "status", "invited_by", "mailed_at", "expires_at", "created_at")
    list_filter = ("status", "role", "created_at")
    search_fields = ("email", "project__name", "project__slug")
    list_select_related = ("project", "invited_by")
    exclude = ("token_hash",)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
