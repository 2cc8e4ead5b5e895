from django.conf import settings
from rest_framework import serializers

from identity.models import ApiToken, OAuthClient, Scope


class ApiTokenInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    scope = serializers.ChoiceField(choices=Scope.choices, default=Scope.READ)
    project = serializers.UUIDField(required=False, allow_null=True, default=None, help_text="Bind to one project.")
    expires_in_days = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=settings.API_TOKEN_MAX_DAYS,
        help_text=f"Default {settings.API_TOKEN_DEFAULT_DAYS}.",
    )


class ApiTokenOutputSerializer(serializers.ModelSerializer):
    active = serializers.BooleanField(source="is_active", read_only=True, help_text="Neither revoked nor expired.")

    class Meta:
        model = ApiToken
        fields = [
            "id",
            "name",
            "scope",
            "project",
            "prefix",
            "active",
            "created_at",
            "expires_at",
            "last_used_at",
            "revoked_at",
        ]
        read_only_fields = fields


class ApiTokenCreatedSerializer(ApiTokenOutputSerializer):
    token = serializers.SerializerMethodField(help_text="The token itself: shown in this response only.")

    class Meta(ApiTokenOutputSerializer.Meta):
        fields = [*ApiTokenOutputSerializer.Meta.fields, "token"]
        read_only_fields = fields

    def get_token(self, obj) -> str:
        return self.context["raw"]


class OAuthClientInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    scope = serializers.ChoiceField(choices=Scope.choices, default=Scope.READ, help_text="The widest scope it gets.")


class OAuthClientOutputSerializer(serializers.ModelSerializer):
    client_id = serializers.CharField(read_only=True)

    class Meta:
        model = OAuthClient
        fields = ["id", "name", "project", "scope", "client_id", "created_by", "created_at"]
        read_only_fields = fields


class OAuthClientCreatedSerializer(OAuthClientOutputSerializer):
    client_secret = serializers.SerializerMethodField(help_text="Shown in this response only; stored hashed.")
    token_url = serializers.SerializerMethodField(help_text="Where to POST grant_type=client_credentials.")

    class Meta(OAuthClientOutputSerializer.Meta):
        fields = [*OAuthClientOutputSerializer.Meta.fields, "client_secret", "token_url"]
        read_only_fields = fields

    def get_client_secret(self, obj) -> str:
        return self.context["secret"]

    def get_token_url(self, obj) -> str:
        request = self.context.get("request")
        return request.build_absolute_uri("/o/token/") if request is not None else "/o/token/"
