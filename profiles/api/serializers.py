from rest_framework import serializers

from core import fields
from profiles.models import ImportJob, ImportLineError, Subject


class RecordSerializer(serializers.Serializer):
    """One profile record; the service validates the details (see docs/profiles.md)."""

    region = fields.StrictCharField(required=False, max_length=16)
    identifiers = serializers.ListField(child=serializers.DictField(), min_length=1)
    attributes = serializers.JSONField(required=False)
    events = serializers.ListField(child=serializers.DictField(), required=False)


class BatchSerializer(serializers.Serializer):
    idempotency_key = fields.StrictCharField(max_length=100)
    records = serializers.ListField(child=serializers.JSONField(), min_length=1, max_length=1000)


class SearchSerializer(serializers.Serializer):
    kind = fields.StrictChoiceField(choices=["email", "phone", "customer_id", "device_id"])
    value = fields.StrictCharField(max_length=320)


class SubjectSummarySerializer(serializers.ModelSerializer):
    class Meta:
        model = Subject
        fields = ["id", "region", "jurisdiction", "status", "created_at", "updated_at"]


class ImportJobSerializer(serializers.ModelSerializer):
    class Meta:
        model = ImportJob
        fields = [
            "id",
            "status",
            "region",
            "lines_total",
            "lines_done",
            "imported",
            "failed",
            "created_at",
            "started_at",
            "finished_at",
        ]


class ImportLineErrorSerializer(serializers.ModelSerializer):
    class Meta:
        model = ImportLineError
        fields = ["line", "code", "message"]


class UnmaskSerializer(serializers.Serializer):
    subject = fields.StrictUUIDField()
    reason = fields.StrictCharField(max_length=500)
    minutes = fields.StrictIntegerField(min_value=1, max_value=60, default=15)
