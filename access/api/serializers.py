from rest_framework import serializers

from access.models import ApiToken
from access.services import TOKEN_SCOPES
from core import fields


class ApiTokenSerializer(serializers.ModelSerializer):
    class Meta:
        model = ApiToken
        fields = [
            "id",
            "name",
            "token_prefix",
            "user",
            "scopes",
            "all_regions",
            "regions",
            "created_at",
            "expires_at",
            "last_used_at",
            "revoked_at",
        ]
        read_only_fields = fields


class ApiTokenCreateSerializer(serializers.Serializer):
    user = fields.StrictIntegerField(help_text="id of the service-account user")
    name = fields.StrictCharField(max_length=100)
    scopes = serializers.ListField(
        child=fields.StrictChoiceField(choices=TOKEN_SCOPES), min_length=1
    )
    regions = serializers.ListField(child=fields.StrictCharField(max_length=16), required=False)
    all_regions = fields.StrictBooleanField(default=False)
    expires_at = serializers.DateTimeField(required=False, allow_null=True)
