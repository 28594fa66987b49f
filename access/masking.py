"""Masking of personal values for roles that must not see them in clear."""

from __future__ import annotations

from typing import Any

UNMASKED_PERMISSION = "access.view_unmasked"


def mask_email(value: str) -> str:
    """`jane.doe@example.com` -> `j***@e***.com`."""
    local, _, domain = value.partition("@")
    if not domain:
        return mask_text(value)
    host, dot, tld = domain.rpartition(".")
    masked_domain = f"{host[:1]}***{dot}{tld}" if host else f"{tld[:1]}***"
    return f"{local[:1]}***@{masked_domain}"


def mask_phone(value: str) -> str:
    """Keep the country prefix and the last two digits: `+33 6** ** ** 12`."""
    digits = [c for c in value if c.isdigit()]
    if len(digits) <= 4:
        return "*" * len(value)
    keep_head = 3 if value.startswith("+") else 1
    out: list[str] = []
    seen = 0
    for char in value:
        if char.isdigit():
            seen += 1
            out.append(char if seen <= keep_head or seen > len(digits) - 2 else "*")
        else:
            out.append(char)
    return "".join(out)


def mask_text(value: str) -> str:
    """Generic value: first character, then stars (length hidden beyond 3)."""
    if not value:
        return ""
    return value[:1] + "***"


def mask_value(kind: str, value: Any) -> str:
    """Mask `value` according to its kind (email, phone, anything else)."""
    if value is None:
        return ""
    text = str(value)
    if kind == "email":
        return mask_email(text)
    if kind == "phone":
        return mask_phone(text)
    return mask_text(text)


def is_unmasked(who: Any, *, subject_id: Any = None) -> bool:
    """True if `who` may see clear values of this subject: a role with the unmasked-view
    permission, or (with subject_id) an active, audited unmask grant for that subject."""
    from access.scoping import Principal

    user = Principal.of(who).user
    if user is None or not user.is_authenticated:
        return False
    if user.has_perm(UNMASKED_PERMISSION):
        return True
    if subject_id is None:
        return False
    from access.selectors import unmask_grant_active

    return unmask_grant_active(user=user, subject_id=subject_id)
