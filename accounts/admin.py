from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import UserChangeForm, UserCreationForm

from accounts.gdpr import erasure
from accounts.models import User
from common.errors import ApplicationError


class _UserCreationForm(UserCreationForm):
    class Meta:
        model = User
        fields = ("email",)


class _UserChangeForm(UserChangeForm):
    class Meta:
        model = User
        fields = "__all__"


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    form = _UserChangeForm
    add_form = _UserCreationForm
    list_display = (
        "email",
        "full_name",
        "email_verified_at",
        "is_active",
        "is_staff",
        "date_joined",
        "last_login",
        "erased_at",
    )
    list_filter = ("is_active", "is_staff", "is_superuser", ("email_verified_at", admin.EmptyFieldListFilter))
    actions = ["erase_selected"]
    search_fields = ("email", "full_name")
    ordering = ("email",)
    readonly_fields = ("id", "date_joined", "last_login", "erased_at")
    fieldsets = (
        (None, {"fields": ("id", "email", "password")}),
        # An operator may mark an address verified that they checked otherwise (docs/operations.md).
        ("Profile", {"fields": ("full_name", "email_verified_at")}),
        ("Permissions", {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")}),
        ("Dates", {"fields": ("date_joined", "last_login", "erased_at")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "password1", "password2")}),)

    @admin.action(description="Erase the selected users (GDPR)", permissions=["change"])
    def erase_selected(self, request, queryset):
        """GDPR Art. 17 for requests handled by an operator: the same erasure as DELETE /api/v1/auth/me/."""
        erased = 0
        for user in queryset.filter(erased_at__isnull=True).order_by("pk"):
            if user.pk == request.user.pk:
                self.message_user(request, "You cannot erase your own account here.", messages.WARNING)
                continue
            try:
                erasure.user_erase(user=user, via=erasure.Via.ADMIN)
            except ApplicationError as exc:
                self.message_user(request, f"User {user.pk}: {exc}", messages.ERROR)
                continue
            # The admin's own log, with the pseudonym as the object's name (str(user) is the new email).
            self.log_change(request, user, "Erased (GDPR)")
            erased += 1
        self.message_user(request, f"Erased {erased} user(s).", messages.SUCCESS if erased else messages.WARNING)


# --- Admin TOTP devices (django-otp; ADMIN_2FA_REQUIRED, docs/security.md) ----------------------------------------
from django.core.exceptions import PermissionDenied  # noqa: E402
from django_otp.plugins.otp_totp.admin import TOTPDeviceAdmin as OtpTOTPDeviceAdmin  # noqa: E402  (registers it)
from django_otp.plugins.otp_totp.models import TOTPDevice  # noqa: E402


class TOTPDeviceAdmin(OtpTOTPDeviceAdmin):
    """django-otp's TOTP device admin, whose QR code (the device's secret) only a superuser or its owner may see.

    django-otp shows it to anyone with the view permission: a view-only staff member could read a superuser's key.
    """

    def _may_see_secret(self, request, pk) -> None:
        device = TOTPDevice.objects.filter(pk=pk).only("user_id").first()
        if device is None or not (request.user.is_superuser or device.user_id == request.user.pk):
            raise PermissionDenied

    def config_view(self, request, pk):
        self._may_see_secret(request, pk)
        return super().config_view(request, pk)

    def qrcode_view(self, request, pk):
        self._may_see_secret(request, pk)
        return super().qrcode_view(request, pk)


admin.site.unregister(TOTPDevice)
admin.site.register(TOTPDevice, TOTPDeviceAdmin)
