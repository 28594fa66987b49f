from rest_framework import serializers

from core import fields
from dsar.models import DataSubjectRequest
from dsar.services import DESCRIPTION_MAX_CHARS, DETAILS_MAX_CHARS

KINDS = DataSubjectRequest.Kind.choices


DETAILS_HELP = (
    f"What the person tells us (`description`, at most {DESCRIPTION_MAX_CHARS} characters), the "
    "corrections of a rectification, the purposes of an objection, a `language`: at most "
    f"{DETAILS_MAX_CHARS} characters in all as JSON; longer is 400 `details_too_long`."
)


class IntakeSerializer(serializers.Serializer):
    kind = fields.StrictChoiceField(choices=KINDS)
    email = fields.StrictEmailField(max_length=254)
    region = fields.StrictCharField(max_length=16, required=False, allow_blank=True)
    details = serializers.DictField(required=False, help_text=DETAILS_HELP)


class ConfirmSerializer(serializers.Serializer):
    reference = fields.StrictRegexField(r"^DSR-[A-Z0-9]{10}$")
    code = fields.StrictRegexField(r"^\s*\d{6}\s*$")


class RequestCreateSerializer(serializers.Serializer):
    kind = fields.StrictChoiceField(choices=KINDS)
    subject_id = fields.StrictUUIDField(required=False)
    email = fields.StrictEmailField(max_length=254, required=False)
    region = fields.StrictCharField(max_length=16, required=False, allow_blank=True)
    details = serializers.DictField(required=False, help_text=DETAILS_HELP)

    def validate(self, data):
        if not data.get("subject_id") and not data.get("email"):
            raise serializers.ValidationError({"subject_id": ["give a subject_id or an email"]})
        return data


class ReasonSerializer(serializers.Serializer):
    reason = fields.StrictCharField(max_length=500, required=False, allow_blank=True, default="")


class ReasonRequiredSerializer(serializers.Serializer):
    """A refusal or an extension: the person is told the reason, so there must be one."""

    reason = fields.StrictCharField(max_length=500)


class RequestListQuerySerializer(serializers.Serializer):
    status = fields.StrictChoiceField(
        choices=["open", *DataSubjectRequest.Status.values],
        required=False,
        help_text="`open` (every status still running), or one request status",
    )


class CallbackSerializer(serializers.Serializer):
    status = fields.StrictChoiceField(choices=["done", "failed"])
    evidence = fields.StrictCharField(max_length=500)
