from rest_framework import serializers

from audit.export import READER_FIELDS
from audit.models import AuditEvent


class AuditEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = AuditEvent
        fields = [*READER_FIELDS, "prev_hash", "hash"]


class AuditFilterSerializer(serializers.Serializer):
    subject = serializers.UUIDField(required=False)
    actor = serializers.CharField(required=False, max_length=150)
    action = serializers.CharField(required=False, max_length=80)
    region = serializers.CharField(required=False, max_length=16)
    date_from = serializers.DateField(required=False)
    date_to = serializers.DateField(required=False)
