"""Filling a template for one case: each variable's value, or why there is none.

A variable without a value refuses the whole message (nothing is sent with a hole in it):
``render_for_case`` raises ``ValidationError`` naming every missing variable and what to set.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils.translation import gettext as _

from recoup.cases.models import ContactPoint
from recoup.contact.models import Promise
from recoup.core.exceptions import ValidationError
from recoup.messaging.selectors import settings_for_client, us_profile
from recoup.messaging.variables import LABELS, render_text, variables_in

if TYPE_CHECKING:
    from recoup.cases.models import Case
    from recoup.messaging.models import MessageTemplate

OPT_OUT_CN = "回复TD退订"
OPT_OUT_US = "Reply STOP to opt out"
SEAL_TEXT = "（业务公章）"


@dataclass(frozen=True)
class Rendered:
    text: str  # the message as it goes out (SMS) / the body as plain text (letter)
    values: dict[str, str]  # every variable the template uses, filled


def format_amount(amount: Decimal) -> str:
    return f"{amount:,.2f}"


def format_date(day: date, *, us: bool) -> str:
    return f"{day:%m/%d/%Y}" if us else f"{day.year}年{day.month}月{day.day}日"


def _open_promise_due(case: Case) -> date | None:
    return (
        Promise.objects.filter(case_id=case.pk, status=Promise.Status.OPEN)
        .order_by("due_on")
        .values_list("due_on", flat=True)
        .first()
    )


def render_for_case(
    *,
    case: Case,
    template: MessageTemplate,
    contact_point: ContactPoint | None,
    at: datetime,
    due_date: date | None = None,
) -> Rendered:
    """The template filled for this case; ``ValidationError`` listing every missing value."""
    used = variables_in(template.body)
    client_settings = settings_for_client(case.client_id) if used else None
    us = us_profile(case.contract) if {"opt_out", "due_date", "date"} & set(used) else False
    values: dict[str, str] = {}
    missing: list[str] = []

    def need(name: str, value: str, why: str) -> None:
        if value.strip():
            values[name] = value.strip()
        else:
            missing.append(
                _("{{%(name)s}}（%(label)s）：%(why)s")
                % {
                    "name": name,
                    "label": LABELS.get(name, name),
                    "why": why,
                }
            )

    not_configured = _("委托方“%(client)s”尚未在短信和信函设置中配置。") % {
        "client": case.client.name
    }
    for name in used:
        if name == "name":
            need(name, str(case.debtor.personal_data().get("name") or ""), _("债务人姓名为空。"))
        elif name == "amount":
            need(name, format_amount(case.total_owed), "")
        elif name == "due_date":
            day = due_date or _open_promise_due(case)
            need(
                name,
                format_date(day, us=us) if day else "",
                _("案件没有待履行的承诺还款，发送时也未指定日期。"),
            )
        elif name == "case_number":
            need(name, case.client_case_number, _("案件没有委托方案件号。"))
        elif name == "creditor":
            need(name, case.client.name, "")
        elif name == "repayment_channel":
            need(name, client_settings.repayment_channel if client_settings else "", not_configured)
        elif name == "agency_phone":
            need(name, client_settings.agency_phone if client_settings else "", not_configured)
        elif name == "bank_contact":
            need(name, client_settings.bank_contact if client_settings else "", not_configured)
        elif name == "opt_out":
            values[name] = OPT_OUT_US if us else OPT_OUT_CN
        elif name == "address":
            value = ""
            if contact_point is not None and contact_point.kind == ContactPoint.Kind.ADDRESS:
                value = str(contact_point.personal_data().get("value") or "")
            need(name, value, _("没有收件地址。"))
        elif name == "date":
            local = at.astimezone(ZoneInfo(settings.TIME_ZONE)).date()
            values[name] = format_date(local, us=us)
        elif name == "seal":
            values[name] = SEAL_TEXT
        else:  # a template saved before a variable was withdrawn
            missing.append(_("{{%(name)s}}：未知变量。") % {"name": name})
    if missing:
        raise ValidationError(
            _("模板变量无法填写，未发送：%(items)s") % {"items": _("；").join(missing)},
            field="template",
            code="variable_missing",
        )
    return Rendered(text=render_text(template.body, values), values=values)
