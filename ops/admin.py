from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.urls import path, reverse

from audit import recording as audit
from audit.models import Category
from ops.models import BACKUP_NOW, VERIFY_NOW, BackupKind, BackupRecord, RestoreDrill
from ops.tasks import backup_task, verify_task


def _queue(request, task, *args) -> None:
    audit.record(
        Category.ADMIN, f"admin.{task.name}", resource_type="backup", detail={"arguments": [str(a) for a in args]}
    )
    try:
        result = task.delay(*args)
    except Exception as exc:  # broker down: say so on the page rather than a 500
        messages.error(request, f"Could not queue {task.name}: {type(exc).__name__}: {exc}")
        return
    messages.success(request, f"Queued {task.name} (task {result.id}); refresh this list to see the result.")


@admin.register(BackupRecord)
class BackupRecordAdmin(admin.ModelAdmin):
    """Read-only catalogue of backups, with "Back up now" and "Verify now"; restore stays on the command line."""

    change_list_template = "admin/ops/backuprecord/change_list.html"
    list_display = [
        "started_at",
        "kind",
        "status",
        "size_bytes",
        "duration_seconds",
        "short_sha256",
        "verified_at",
        "verify_ok",
        "restore_seconds",
        "replica_status",
        "replica_verified_at",
        "key",
    ]
    list_filter = ["status", "kind", "verify_ok", "replica_status"]
    date_hierarchy = None
    ordering = ["-started_at"]
    actions = ["backup_now", "verify_now"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # retention is backup_prune's job, which also removes the objects

    @admin.display(description="sha256")
    def short_sha256(self, obj):
        return obj.sha256[:12]

    # The catalogue is read-only (no change permission for anyone): starting work needs a permission of its own.
    def has_backup_now_permission(self, request) -> bool:
        return request.user.has_perm(f"ops.{BACKUP_NOW}")

    def has_verify_now_permission(self, request) -> bool:
        return request.user.has_perm(f"ops.{VERIFY_NOW}")

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "can_backup_now": self.has_backup_now_permission(request)}
        return super().changelist_view(request, extra_context=extra_context)

    @admin.action(description="Back up now", permissions=["backup_now"])
    def backup_now(self, request, queryset):
        _queue(request, backup_task, BackupKind.MANUAL)

    @admin.action(description="Verify now (restore drill of the selected backups)", permissions=["verify_now"])
    def verify_now(self, request, queryset):
        for record in queryset:
            _queue(request, verify_task, str(record.id))

    def get_urls(self):
        urls = [
            path("backup-now/", self.admin_site.admin_view(self.backup_now_view), name="ops_backuprecord_backup_now")
        ]
        return urls + super().get_urls()

    def backup_now_view(self, request):
        """The "Back up now" button above the list: works even when there is no backup to select yet."""
        if request.method != "POST" or not self.has_backup_now_permission(request):
            raise PermissionDenied
        _queue(request, backup_task, BackupKind.MANUAL)
        return HttpResponseRedirect(reverse("admin:ops_backuprecord_changelist"))


@admin.register(RestoreDrill)
class RestoreDrillAdmin(admin.ModelAdmin):
    """Read-only history of the restore drills: outcome and measured restore time (the RTO estimate)."""

    list_display = ["started_at", "source", "ok", "restore_seconds", "tables", "rows", "backup_key", "detail"]
    list_filter = ["ok", "source"]
    ordering = ["-started_at"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
