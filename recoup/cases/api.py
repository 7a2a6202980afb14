"""JSON endpoints for cases under /api/v1/cases: the same selectors and services as the UI."""

from __future__ import annotations

from typing import Any

from django.core.paginator import Paginator
from django.http import HttpRequest
from ninja import Query, Router, Schema
from ninja.responses import Status
from pydantic import Field

from recoup.accounts.models import User
from recoup.cases import selectors, services
from recoup.cases.models import Case, Hold
from recoup.cases.schemas import (
    CaseDetailOut,
    CasePage,
    ContactOut,
    DebtorUnmaskedOut,
    ErrorOut,
    HoldIn,
    HoldOut,
)

router = Router(tags=["cases"])


class CaseQuery(Schema):
    q: str = Field(default="", max_length=80)
    status: Case.Status | None = None
    stage: Case.Stage | None = None
    client: int | None = Field(default=None, ge=1)
    batch: int | None = Field(default=None, ge=1)
    assignee: int | None = Field(default=None, ge=1)
    page: int = Field(default=1, ge=1)
    page_size: int = Field(default=50, ge=1, le=500)


def _user(request: HttpRequest) -> User:
    assert isinstance(request.user, User)
    return request.user


def _item(case: Case) -> dict[str, Any]:
    summary = selectors.case_masked_summary(case)
    return {
        "id": case.pk,
        "client_case_number": case.client_case_number,
        "client": case.client.name,
        "batch": case.batch.reference if case.batch else None,
        "product": case.product,
        "debtor_name_masked": summary["debtor_name"],
        "account_masked": summary["account"],
        "currency": case.currency,
        "principal": case.principal,
        "interest": case.interest,
        "fees": case.fees,
        "total_owed": case.total_owed,
        "overdue_days": case.overdue_days,
        "stage": case.stage,
        "status": case.status,
        "branch": case.branch.name,
        "team": case.team.name if case.team else None,
        "assignee": case.assignee.username if case.assignee else None,
        "on_hold": bool(getattr(case, "held", False)),
        "placed_at": case.placed_at,
    }


@router.get("", response=CasePage, operation_id="api_case_list")
def api_case_list(request: HttpRequest, params: Query[CaseQuery]) -> dict[str, Any]:
    user = _user(request)
    filters = selectors.CaseFilters(
        q=params.q,
        status=params.status or "",
        stage=params.stage or "",
        client=params.client,
        batch=params.batch,
        assignee=params.assignee,
    )
    page = Paginator(selectors.case_list_for_user(user, filters), params.page_size).get_page(
        params.page
    )
    items = [_item(c) for c in page.object_list]
    services.case_list_record_view(actor=user, case_ids=[i["id"] for i in items], filters=filters)
    return {
        "count": page.paginator.count,
        "page": page.number,
        "page_size": params.page_size,
        "results": items,
    }


@router.get(
    "/{case_id}", response={200: CaseDetailOut, 404: ErrorOut}, operation_id="api_case_detail"
)
def api_case_detail(request: HttpRequest, case_id: int) -> dict[str, Any]:
    user = _user(request)
    case = selectors.case_get_for_user(user, case_id)
    detail = selectors.case_detail_for_user(user, case)
    services.case_record_view(case=case, actor=user, fields=["name", "id_number", "contacts"])
    out = _item(case)
    out["on_hold"] = detail.active_hold
    out["contract"] = case.contract.number
    out["debtor_id_number_masked"] = detail.debtor["id_number"]
    out["contacts"] = [
        ContactOut(
            id=c.id,
            uid=c.uid,
            kind=c.kind,
            role=c.role,
            label=c.label,
            value_masked=c.masked,
            validity=c.validity,
            refused_contact=c.refused_contact,
        )
        for c in detail.contacts
    ]
    out["holds"] = [_hold(h) for h in detail.holds]
    return out


def _hold(h: Hold) -> HoldOut:
    return HoldOut(
        id=h.pk,
        reason=h.reason,
        note=h.note,
        set_by=h.set_by.username,
        created_at=h.created_at,
        expires_at=h.expires_at,
        released_at=h.released_at,
    )


@router.post(
    "/{case_id}/holds",
    response={201: HoldOut, 400: ErrorOut, 403: ErrorOut, 404: ErrorOut},
    operation_id="api_case_hold",
)
def api_case_hold(request: HttpRequest, case_id: int, body: HoldIn) -> Status[HoldOut]:
    user = _user(request)
    case = selectors.case_get_for_user(user, case_id)
    hold = services.case_put_on_hold(
        case=case, reason=body.reason, note=body.note, expires_at=body.expires_at, actor=user
    )
    return Status(201, _hold(hold))


@router.post(
    "/{case_id}/unmask",
    response={200: DebtorUnmaskedOut, 403: ErrorOut, 404: ErrorOut},
    operation_id="api_debtor_unmask",
)
def api_debtor_unmask(request: HttpRequest, case_id: int) -> dict[str, str]:
    user = _user(request)
    case = selectors.case_get_for_user(user, case_id)
    return services.debtor_unmask(case=case, actor=user)
