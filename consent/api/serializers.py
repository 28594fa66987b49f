from rest_framework import serializers

from consent.models import ConsentRecord


class DecisionQuerySerializer(serializers.Serializer):
    subject = serializers.UUIDField()
    purpose = serializers.SlugField()
    at = serializers.DateTimeField(required=False)


class BulkDecisionSerializer(serializers.Serializer):
    subjects = serializers.ListField(child=serializers.UUIDField(), min_length=1, max_length=1000)
    purposes = serializers.ListField(child=serializers.SlugField(), min_length=1, max_length=20)
    at = serializers.DateTimeField(required=False)


class ConsentWriteSerializer(serializers.Serializer):
    subject = serializers.UUIDField()
    purpose = serializers.SlugField()
    state = serializers.ChoiceField(choices=ConsentRecord.State.choices)
    notice = serializers.IntegerField(required=False)
    idempotency_key = serializers.CharField(max_length=100, required=False)
    tc_string = serializers.CharField(required=False, allow_blank=True, max_length=4000)


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
            "prev_hash",
            "hash",
        ]
