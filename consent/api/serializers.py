from rest_framework import serializers

from consent.models import ConsentRecord
from core import fields


class DecisionQuerySerializer(serializers.Serializer):
    subject = fields.StrictUUIDField()
    purpose = fields.StrictSlugField()
    at = serializers.DateTimeField(required=False)


class BulkDecisionSerializer(serializers.Serializer):
    subjects = serializers.ListField(child=fields.StrictUUIDField(), min_length=1, max_length=1000)
    purposes = serializers.ListField(child=fields.StrictSlugField(), min_length=1, max_length=20)
    at = serializers.DateTimeField(required=False)


class ConsentWriteSerializer(serializers.Serializer):
    subject = fields.StrictUUIDField()
    purpose = fields.StrictSlugField()
    state = fields.StrictChoiceField(choices=ConsentRecord.State.choices)
    notice = fields.StrictIntegerField(required=False)
    idempotency_key = fields.StrictCharField(max_length=100, required=False)
    tc_string = fields.StrictCharField(required=False, allow_blank=True, max_length=4000)


class TCStringSerializer(serializers.Serializer):
    tc_string = fields.StrictCharField(max_length=4000)


class GPPStringSerializer(serializers.Serializer):
    gpp_string = fields.StrictCharField(max_length=8000)


class ConsentRecordSerializer(serializers.ModelSerializer):
    purpose = serializers.SlugRelatedField(slug_field="slug", read_only=True)

    class Meta:
        model = ConsentRecord
        fields = [
            "id",
            "subject",
            "visitor_id",
            "purpose",
            "state",
            "notice",
            "channel",
            "jurisdiction",
            "region",
            "recorded_at",
            "gpc",
            "tc_string",
            "gpp_string",
            "prev_hash",
            "hash",
        ]
