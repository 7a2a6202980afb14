"""The SMS and letters panel of the collector's case workspace (``recoup.contact.panels``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from recoup.cases import pii
from recoup.cases.models import ContactPoint
from recoup.contact.panels import Panel
from recoup.messaging import selectors
from recoup.messaging.models import Message

if TYPE_CHECKING:
    from recoup.accounts.models import User
    from recoup.cases.models import Case


def _points(case: Case, kind: str) -> list[tuple[str, str]]:
    points = ContactPoint.objects.filter(
        organisation_id=case.organisation_id, debtor_id=case.debtor_id, kind=kind
    ).exclude(validity=ContactPoint.Validity.INVALID)
    rows = []
    for point in points:
        masked = pii.mask_contact(kind, str(point.personal_data().get("value", "")))
        rows.append((str(point.uid), f"{point.get_role_display()} · {masked}"))
    return rows


def case_panel(user: User, case: Case) -> Panel | None:
    templates = list(selectors.templates_for_case(case))
    return Panel(
        template="messaging/_case_panel.html",
        context={
            "case": case,
            "sms_templates": [t for t in templates if t.kind == "sms"],
            "letter_templates": [t for t in templates if t.kind == "letter"],
            "phones": _points(case, ContactPoint.Kind.PHONE),
            "addresses": _points(case, ContactPoint.Kind.ADDRESS),
            "deliveries": Message.Delivery.choices,
            "messages": list(selectors.messages_for_case(case)[:20]),
        },
    )
