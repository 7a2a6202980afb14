"""Sealing and masking of the case core's personal data (one place for both directions)."""

from __future__ import annotations

from typing import Any

from recoup.core import crypto
from recoup.core.identity import (
    mask_account,
    mask_address,
    mask_email,
    mask_id_number,
    mask_name,
    mask_phone,
    normalise_id_number,
    normalise_name,
    normalise_phone,
)

BIDX_ID = "id_number"
BIDX_NAME = "name"
BIDX_PHONE = "phone"
BIDX_EMAIL = "email"
BIDX_ACCOUNT = "account"


def id_number_bidx(raw: str) -> str:
    return crypto.blind_index(BIDX_ID, normalise_id_number(raw))


def name_bidx(raw: str) -> str:
    return crypto.blind_index(BIDX_NAME, normalise_name(raw))


def phone_bidx(raw: str) -> str:
    return crypto.blind_index(BIDX_PHONE, normalise_phone(raw))


def email_bidx(raw: str) -> str:
    return crypto.blind_index(BIDX_EMAIL, raw.strip().lower())


def account_bidx(raw: str) -> str:
    return crypto.blind_index(BIDX_ACCOUNT, raw.replace(" ", "").strip())


def contact_bidx(kind: str, value: str) -> str:
    if kind == "phone":
        return phone_bidx(value)
    if kind == "email":
        return email_bidx(value)
    return ""


def mask_contact(kind: str, value: str) -> str:
    if kind == "phone":
        return mask_phone(value)
    if kind == "email":
        return mask_email(value)
    return mask_address(value)


def masked_debtor(data: dict[str, Any]) -> dict[str, str]:
    return {
        "name": mask_name(data.get("name", "")),
        "id_number": mask_id_number(data.get("id_number", "")),
        "employer": mask_address(data["employer"]) if data.get("employer") else "",
    }


__all__ = [
    "BIDX_ACCOUNT",
    "BIDX_EMAIL",
    "BIDX_ID",
    "BIDX_NAME",
    "BIDX_PHONE",
    "account_bidx",
    "contact_bidx",
    "crypto",
    "email_bidx",
    "id_number_bidx",
    "mask_account",
    "mask_contact",
    "mask_name",
    "masked_debtor",
    "name_bidx",
    "normalise_phone",
    "phone_bidx",
]
