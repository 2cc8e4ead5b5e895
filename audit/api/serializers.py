from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from audit.models import AuditEvent


class ActorSerializer(serializers.Serializer):
    id = serializers.UUIDField(allow_null=True)
    kind = serializers.ChoiceField(choices=["user", "system", "anonymous"])


class AuditEventOutputSerializer(serializers.ModelSerializer):
    timestamp = serializers.DateTimeField(source="created_at")
    actor = serializers.SerializerMethodField()
    project = serializers.UUIDField(source="project_id", allow_null=True)

    class Meta:
        model = AuditEvent
        fields = [
            "id",
            "sequence",
            "timestamp",
            "actor",
            "category",
            "action",
            "resource_type",
            "resource_id",
            "project",
            "status_code",
            "request_id",
            "trace_id",
            "ip",
            "user_agent",
            "changes",
        ]
        read_only_fields = fields

    @extend_schema_field(ActorSerializer)
    def get_actor(self, event) -> dict:
        return {"id": str(event.actor_id) if event.actor_id else None, "kind": event.actor_kind}
