"""API schemas for cases (no logic)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from ninja import Schema
from pydantic import Field


class CaseListItem(Schema):
    id: int
    client_case_number: str
    client: str
    contract: str | None = None
    batch: str | None
    product: str
    debtor_name_masked: str
    account_masked: str
    currency: str
    principal: Decimal
    interest: Decimal
    fees: Decimal
    total_owed: Decimal
    overdue_days: int
    stage: str
    status: str
    branch: str
    team: str | None
    assignee: str | None
    on_hold: bool
    placed_at: datetime


class CasePage(Schema):
    count: int
    page: int
    page_size: int
    results: list[CaseListItem]


class ContactOut(Schema):
    id: int
    uid: str  # what the dialer sends to POST /api/v1/contact/authorize
    kind: str
    role: str
    label: str
    value_masked: str
    validity: str
    refused_contact: bool


class HoldOut(Schema):
    id: int
    reason: str
    note: str
    set_by: str
    created_at: datetime
    expires_at: datetime | None
    released_at: datetime | None


class CaseDetailOut(CaseListItem):
    debtor_id_number_masked: str
    contacts: list[ContactOut]
    holds: list[HoldOut]


class HoldIn(Schema):
    reason: str = Field(min_length=1, max_length=12)
    note: str = Field(default="", max_length=500)
    expires_at: datetime | None = None


class DebtorUnmaskedOut(Schema):
    name: str
    id_number: str
    employer: str
    employer_address: str


class ErrorOut(Schema):
    error: str
    code: str
