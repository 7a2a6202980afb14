"""Human labels for the allocation reason codes (engine and services), zh-hans and en."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

REASONS: dict[str, str] = {
    # placed
    "balanced": gettext_noop("按规则均衡分配"),
    "debtor_holder": gettext_noop("同一债务人的其他案件由该催收员处理"),
    "manual": gettext_noop("手工分配"),
    "recalled": gettext_noop("收回到待分配"),
    "handover": gettext_noop("交接"),
    "returned": gettext_noop("退回委托方"),
    "extension_pending": gettext_noop("有待审批的延期申请"),
    # unplaced
    "no_rule_matched": gettext_noop("没有匹配的规则"),
    "no_eligible_collector": gettext_noop("规则的分配对象中没有可接案的催收员"),
    "pool_lacks_skills": gettext_noop("分配对象都不具备所需技能：%(skills)s"),
    "case_capacity_full": gettext_noop("所有催收员的在手案件数已满"),
    "balance_exceeds_capacity": gettext_noop("案件金额超过所有催收员剩余的金额上限"),
    "only_previous_collector": gettext_noop("只有上一周期的催收员可接，按规则不分回"),
    "on_hold": gettext_noop("案件处于停催状态"),
    "case_closed": gettext_noop("案件已结束（%(status)s）"),
    "already_assigned_here": gettext_noop("案件已在该催收员名下"),
    "not_assigned": gettext_noop("案件未分配，无需收回"),
    # why a collector takes nothing
    "unknown_collector": gettext_noop("找不到该催收员"),
    "ineligible": gettext_noop("不可接案：%(reason)s"),
    "missing_skills": gettext_noop("缺少所需技能：%(skills)s"),
    "departed": gettext_noop("已离职"),
    "not_a_collector": gettext_noop("不是催收员"),
    "training_lapsed": gettext_noop("合规培训已过期或未完成"),
    "nda_lapsed": gettext_noop("保密协议已过期或未签署"),
}


def reason_label(code: str, params: dict[str, Any] | None = None) -> str:
    template = REASONS.get(code)
    if template is None:
        return code
    values = {}
    for key, value in (params or {}).items():
        if isinstance(value, list | tuple):
            value = _("、").join(str(v) for v in value)
        if key == "reason" and isinstance(value, str):
            value = reason_label(value)
        values[key] = value
    text = _(template)
    try:
        return text % values if "%(" in text else text
    except (KeyError, TypeError):
        return text.split("%(")[0].rstrip("：: ")
