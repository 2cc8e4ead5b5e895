from django.contrib import admin

from projects import quotas
from projects.models import Membership, Project


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
