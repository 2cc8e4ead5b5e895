from rest_framework import serializers

from common.serializers import ColumnOutputMixin, StrictCharField, StrictEmailField, StrictSlugField
from projects.models import SECRET_NAME_PATTERN, Invitation, InvitationStatus, Membership, Project, ProjectSecret, Role


class ProjectOutputSerializer(ColumnOutputMixin, serializers.ModelSerializer):
    role = serializers.ChoiceField(choices=Role.choices, read_only=True, help_text="The caller's role.")

    class Meta:
        model = Project
        fields = ["id", "name", "slug", "description", "created_at", "updated_at", "role"]
        read_only_fields = fields


class ProjectInputSerializer(serializers.Serializer):
    name = StrictCharField(max_length=200)
    slug = StrictSlugField(max_length=220, required=False, allow_blank=True)
    description = StrictCharField(required=False, allow_blank=True, default="")


class ProjectUpdateSerializer(serializers.Serializer):
    name = StrictCharField(max_length=200, required=False)
    slug = StrictSlugField(max_length=220, required=False)
    description = StrictCharField(required=False, allow_blank=True)


class MemberUserSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    email = serializers.EmailField()
    full_name = serializers.CharField()


class MembershipOutputSerializer(serializers.ModelSerializer):
    user = MemberUserSerializer(read_only=True)
    email = serializers.EmailField(source="user.email", read_only=True)

    class Meta:
        model = Membership
        fields = ["id", "user", "email", "role", "created_at", "updated_at"]
        read_only_fields = fields


class MembershipInputSerializer(serializers.Serializer):
    email = StrictEmailField()
    role = serializers.ChoiceField(choices=Role.choices, default=Role.VIEWER)


class MembershipUpdateSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=Role.choices)


class SecretOutputSerializer(serializers.ModelSerializer):
    """A secret's metadata: never its value (nor its ciphertext)."""

    created_by = serializers.UUIDField(source="created_by_id", read_only=True, allow_null=True)

    class Meta:
        model = ProjectSecret
        fields = ["id", "name", "description", "created_by", "created_at", "updated_at", "last_used_at"]
        read_only_fields = fields


class SecretValueField(StrictCharField):
    """A write-only value: kept exactly as sent (no trimming), never rendered."""

    def __init__(self, **kwargs):
        super().__init__(write_only=True, trim_whitespace=False, style={"input_type": "password"}, **kwargs)


class SecretInputSerializer(serializers.Serializer):
    name = serializers.RegexField(
        SECRET_NAME_PATTERN,
        max_length=64,
        error_messages={"invalid": "Use A-Z, 0-9 and _, starting with a letter (at most 64 characters)."},
    )
    value = SecretValueField(help_text="Write-only: encrypted at rest, never returned. At most 64 KiB.")
    description = StrictCharField(required=False, allow_blank=True, default="")


class SecretReplaceSerializer(serializers.Serializer):
    value = SecretValueField(help_text="The new value (write-only).")
    description = StrictCharField(required=False, allow_blank=True)


class InvitationInputSerializer(serializers.Serializer):
    email = StrictEmailField()
    role = serializers.ChoiceField(choices=Role.choices, default=Role.VIEWER)


class InvitationOutputSerializer(serializers.ModelSerializer):
    status = serializers.ChoiceField(choices=InvitationStatus.choices, source="current_status", read_only=True)
    invited_by = serializers.UUIDField(source="invited_by_id", read_only=True, allow_null=True)
    mailed = serializers.SerializerMethodField(help_text="Whether the mail has gone out.")

    class Meta:
        model = Invitation
        fields = ["id", "email", "role", "status", "invited_by", "mailed", "expires_at", "accepted_at", "created_at"]
        read_only_fields = fields

    def get_mailed(self, invitation: Invitation) -> bool:
        return invitation.mailed_at is not None


class InvitationAcceptInputSerializer(serializers.Serializer):
    token = StrictCharField(max_length=200, help_text="The token of the invitation mail.")
