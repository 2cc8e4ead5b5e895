from django.urls import reverse
from rest_framework import serializers

from accounts.models import DataExport, ExportStatus, User
from common.serializers import StrictCharField, StrictEmailField


class UserOutputSerializer(serializers.ModelSerializer):
    email_verified = serializers.BooleanField(
        read_only=True, help_text="Whether the person confirmed the address (needed to accept invitations)."
    )

    class Meta:
        model = User
        fields = ["id", "email", "email_verified", "full_name", "is_staff", "date_joined"]
        read_only_fields = fields


class VerifyEmailInputSerializer(serializers.Serializer):
    token = StrictCharField(max_length=500, help_text="The token of the verification mail.")


class RegisterInputSerializer(serializers.Serializer):
    email = StrictEmailField()
    password = StrictCharField(write_only=True, trim_whitespace=False)
    confirm_password = StrictCharField(write_only=True, trim_whitespace=False)
    full_name = StrictCharField(required=False, allow_blank=True, max_length=150, default="")

    def validate(self, attrs):
        if attrs["password"] != attrs["confirm_password"]:
            raise serializers.ValidationError({"confirm_password": ["The passwords do not match."]})
        return attrs


class LoginInputSerializer(serializers.Serializer):
    email = StrictCharField()
    password = StrictCharField(trim_whitespace=False)


class RefreshInputSerializer(serializers.Serializer):
    refresh_token = StrictCharField()


class TokenOutputSerializer(serializers.Serializer):
    access_token = serializers.CharField()
    refresh_token = serializers.CharField()
    token_type = serializers.CharField()
    expires_in = serializers.IntegerField(help_text="Lifetime of the access token, in seconds.")


class RegisterOutputSerializer(TokenOutputSerializer):
    user = UserOutputSerializer()


class UserUpdateInputSerializer(serializers.Serializer):
    full_name = StrictCharField(required=False, allow_blank=True, max_length=150)


class PasswordChangeInputSerializer(serializers.Serializer):
    old_password = StrictCharField(trim_whitespace=False)
    new_password = StrictCharField(trim_whitespace=False)


class EraseInputSerializer(serializers.Serializer):
    password = StrictCharField(trim_whitespace=False, help_text="The account's password, to confirm.")


class DataExportOutputSerializer(serializers.ModelSerializer):
    status = serializers.ChoiceField(choices=ExportStatus.choices, source="current_status", read_only=True)
    download_url = serializers.SerializerMethodField(help_text="Set once the export is ready, until it expires.")

    class Meta:
        model = DataExport
        fields = ["id", "status", "download_url", "created_at", "finished_at", "expires_at"]
        read_only_fields = fields

    def get_download_url(self, export: DataExport) -> str | None:
        request = self.context.get("request")
        if request is None or export.current_status != ExportStatus.READY:
            return None
        # The download lives under the same API mount (v1, v2 or /api/) as the request.
        namespace = request.resolver_match.namespace if request.resolver_match else "v1"
        return request.build_absolute_uri(reverse(f"{namespace}:me-export-download", kwargs={"pk": export.pk}))
