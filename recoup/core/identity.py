"""Normalising and masking personal identifiers (ID-card numbers, phones, names, addresses).

ID-card numbers follow GB 11643-1999: 17 digits plus a check character computed with the
ISO 7064 MOD 11-2 weights; legacy 15-digit numbers (pre-1999) are converted by inserting the
century "19" and appending the check character.
"""

from __future__ import annotations

import re

from django.utils.translation import gettext as _

ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK = "10X98765432"
_NON_DIGITS = re.compile(r"[^0-9]")
_FULLWIDTH = str.maketrans("０１２３４５６７８９＋ｘＸ", "0123456789+xX")


class IdentifierError(ValueError):
    """The value is not a valid identifier of the expected kind."""


def id_check_char(first17: str) -> str:
    total = sum(int(d) * w for d, w in zip(first17, ID_WEIGHTS, strict=True))
    return ID_CHECK[total % 11]


def normalise_id_number(raw: str) -> str:
    """Return the 18-character ID number (upper-case X) or raise ``IdentifierError``."""
    value = raw.translate(_FULLWIDTH).strip().upper().replace(" ", "")
    if re.fullmatch(r"\d{15}", value):
        value = value[:6] + "19" + value[6:]
        return value + id_check_char(value)
    if not re.fullmatch(r"\d{17}[\dX]", value):
        raise IdentifierError(_("证件号码应为 18 位（17 位数字加 1 位校验码）"))
    if id_check_char(value[:17]) != value[17]:
        raise IdentifierError(_("证件号码校验位不符（GB 11643）"))
    return value


def normalise_phone(raw: str) -> str:
    """Digits only, without the +86/0086 prefix; landlines keep their area code."""
    value = _NON_DIGITS.sub("", raw.translate(_FULLWIDTH))
    if value.startswith("0086"):
        value = value[4:]
    elif value.startswith("86") and len(value) == 13:
        value = value[2:]
    if len(value) < 7 or len(value) > 15:
        raise IdentifierError(_("电话号码应为 7 到 15 位数字"))
    return value


def normalise_name(raw: str) -> str:
    return re.sub(r"\s+", "", raw.translate(_FULLWIDTH))


def mask_phone(value: str) -> str:
    if len(value) >= 11:
        return value[:3] + "****" + value[-4:]
    if len(value) > 4:
        return "*" * (len(value) - 4) + value[-4:]
    return "****"


def mask_id_number(value: str) -> str:
    if len(value) < 8:
        return "*" * len(value)
    return value[:4] + "*" * (len(value) - 8) + value[-4:]


def mask_name(value: str) -> str:
    if not value:
        return ""
    return value[0] + "*" * max(1, len(value) - 1)


def mask_address(value: str) -> str:
    keep = min(6, max(0, len(value) - 4))
    return value[:keep] + "****"


def mask_email(value: str) -> str:
    local, at, domain = value.partition("@")
    if not at:
        return "****"
    return (local[:1] or "*") + "***@" + domain


def mask_account(value: str) -> str:
    return "****" + value[-4:] if len(value) > 4 else "****"
