"""Consent receipts: ISO/IEC TS 27560 record fields, with Kantara Consent Receipt v1.1 names."""

from __future__ import annotations

from typing import Any

from django.conf import settings

from consent.models import ConsentRecord


def consent_receipt(record: ConsentRecord) -> dict[str, Any]:
    """A PII-free receipt for one ledger record: what was agreed, under which notice, when, how."""
    purpose = record.purpose
    notice = record.notice
    base_url = settings.CUSTODIA_PUBLIC_URL.rstrip("/")
    principal = (
        f"subject:{record.subject_id}" if record.subject_id else f"visitor:{record.visitor_id}"
    )
    return {
        "schema": "ISO/IEC TS 27560:2023 consent record (Kantara CR v1.1 compatible)",
        "record_id": str(record.pk),
        "receipt_id": record.hash,
        "principal_id": principal,
        "jurisdiction": record.jurisdiction,
        "language": record.language or (notice.language if notice else None),
        "notice": (
            {
                "title": notice.title,
                "version": notice.version,
                "published_at": notice.published_at.isoformat(),
            }
            if notice
            else None
        ),
        "policy_url": f"{base_url}/privacy-center/",
        "processing": [
            {
                "purpose": purpose.slug,
                "purpose_description": purpose.description,
                "lawful_basis": purpose.lawful_basis,
                "consent_type": "explicit"
                if record.channel in ("banner", "privacy_center")
                else "recorded",
                "primary_purpose": purpose.essential,
                "third_party_disclosure": purpose.sale_sharing,
                "withdrawal_method": f"{base_url}/privacy-center/ or the consent banner",
            }
        ],
        "event": {
            "time": record.recorded_at.isoformat(),
            "type": record.state,
            "state": record.state,
            "collection_method": record.channel,
            "actor": record.recorded_by,
            "validity": "until withdrawn",
        },
        "proof": {
            "gpc": record.gpc,
            "tc_string": record.tc_string or None,
            "gpp_string": record.gpp_string or None,
            "ip_truncated": record.ip_truncated or None,
            "user_agent": record.user_agent or None,
            "chain": {"prev_hash": record.prev_hash, "hash": record.hash},
        },
        # Kantara CR v1.1 field names for tools that expect them.
        "version": "KI-CR-v1.1.0",
        "consentTimestamp": int(record.recorded_at.timestamp()),
        "collectionMethod": record.channel,
        "consentReceiptID": record.hash,
        "piiPrincipalId": principal,
        "sensitive": purpose.sensitive,
    }
