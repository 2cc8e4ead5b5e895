from rest_framework import serializers

from common.serializers import StrictCharField, StrictEmailField, StrictSlugField
from projects.models import Membership, Project, Role


class ProjectOutputSerializer(serializers.ModelSerializer):
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
