"""Human labels for the audit actions shown in a case's history."""

from __future__ import annotations

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

ACTION_LABELS: dict[str, Promise] = {
    "cases.case.opened": _("案件建立"),
    "cases.case.viewed": _("查看案件"),
    "cases.case.status_changed": _("状态变更"),
    "cases.hold.placed": _("设置停催"),
    "cases.hold.released": _("解除停催"),
    "cases.contact.unmasked": _("查看完整联系方式"),
    "cases.debtor.unmasked": _("查看完整债务人信息"),
}


def action_label(action: str) -> str:
    label = ACTION_LABELS.get(action)
    return str(label) if label is not None else action
