"""Navigation by role for the UI shell."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.urls import reverse
from django.utils.translation import gettext as _

from recoup.accounts.models import Role
from recoup.accounts.roles import ROLE_NAV


def navigation(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    codes = user.role_codes
    entries: dict[str, tuple[str, str]] = {
        "work": (_("我的队列"), reverse("contact:queue")),
        "team_figures": (_("今日作业量"), reverse("contact:team")),
        "cases": (_("案件"), reverse("cases:case-list")),
        "messaging": (_("短信与信函模板"), reverse("messaging:template-list")),
        "result_codes": (_("结果代码"), reverse("contact:result-codes")),
        "people": (_("人员"), reverse("people:people-list")),
        "clients": (_("委托方与合作协议"), reverse("clients:contract-list")),
        "intake": (_("案件导入"), reverse("intake:job-list")),
        "payments": (_("回款"), reverse("money:payment-list")),
        "plans": (_("还款计划"), reverse("money:plan-list")),
        "reductions": (_("减免"), reverse("money:reduction-list")),
        "statements": (_("对账"), reverse("money:statement-list")),
        "scorecard": (_("考核权重"), reverse("money:scorecard")),
        "allocation": (_("分案"), reverse("allocation:index")),
        "workdays": (_("工作日历"), reverse("workdays:calendar")),
        "compliance": (_("合规"), reverse("compliance:index")),
    }
    wanted: list[str] = []
    for code in sorted(codes):
        for key in ROLE_NAV.get(code, ()):
            if key in entries and key not in wanted:
                wanted.append(key)
    path = request.path
    items = [
        {"label": entries[k][0], "url": entries[k][1], "active": path.startswith(entries[k][1])}
        for k in wanted
    ]
    labels = [str(label) for value, label in Role.Code.choices if value in codes]
    # The list separator is language-specific ("、" in Chinese, ", " in English).
    return {"nav_items": items, "role_labels": labels, "role_labels_text": _("、").join(labels)}
