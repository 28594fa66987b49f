from rest_framework import serializers

from dsar.models import DataSubjectRequest

KINDS = DataSubjectRequest.Kind.choices


class IntakeSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=KINDS)
    email = serializers.EmailField(max_length=254)
    region = serializers.CharField(max_length=16, required=False, allow_blank=True)
    details = serializers.DictField(required=False)


class ConfirmSerializer(serializers.Serializer):
    reference = serializers.RegexField(r"^DSR-[A-Z0-9]{10}$")
    code = serializers.RegexField(r"^\s*\d{6}\s*$")


class RequestCreateSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=KINDS)
    subject_id = serializers.UUIDField(required=False)
    email = serializers.EmailField(max_length=254, required=False)
    region = serializers.CharField(max_length=16, required=False, allow_blank=True)
    details = serializers.DictField(required=False)

    def validate(self, data):
        if not data.get("subject_id") and not data.get("email"):
            raise serializers.ValidationError({"subject_id": ["give a subject_id or an email"]})
        return data


class ReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


class CallbackSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["done", "failed"])
    evidence = serializers.CharField(max_length=500)
