"""Rule codes of the compliance gate and their reasons in zh-hans and English.

Codes are stable strings (dialers and reports key on them); the reason is rendered from the
code and its parameters in the language asked for.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.utils import translation
from django.utils.translation import gettext_lazy as _

from recoup.compliance.params import CHANNEL_LABELS

REASONS: dict[str, Any] = {
    "not_permitted": _("您无权处理该案件。"),
    "case_not_workable": _("案件状态为“%(status)s”，不可联系。"),
    "hold": _("案件已停催（%(reason)s），禁止任何联系。"),
    "profile_missing": _("合同指定的合规配置“%(codes)s”不存在，按规定拒绝联系。"),
    "contact_point_mismatch": _("该联系方式不属于此案件的债务人。"),
    "contact_point_kind": _("渠道“%(channel)s”需要%(kind)s。"),
    "contact_point_required": _("渠道“%(channel)s”需要选择联系方式。"),
    "number_invalid": _("该号码已标记为无效。"),
    "outside_window": _(
        "债务人当地时间 %(local_time)s（%(zone)s）不在可联系时段 %(start)s–%(end)s 内。"
    ),
    "blocked_weekday": _("债务人当地的今天（%(weekday)s）禁止联系。"),
    "debtor_daily_cap": _("该债务人今日有效通话已达上限 %(cap)s 次（含进行中的 %(open)s 次）。"),
    "number_unanswered_cap": _("该号码今日未接通拨打已达上限 %(cap)s 次。"),
    "third_party_not_allowed": _("合规配置不允许联系第三方。"),
    "third_party_locked": _(
        "本人尚未失联：须本人号码全部无效或连续 %(failures)s 次联系不上本人后，才可联系第三方。"
    ),
    "third_party_refused": _("该联系人已表示拒绝再被联系，永久禁止联系。"),
    "third_party_cap": _("与该第三方的通话已达上限 %(cap)s 次。"),
    "calls_7d_cap": _("该笔债务连续 7 日内的拨打已达上限 %(cap)s 次。"),
    "conversation_cooldown": _("与债务人通话后的冷静期内，%(until)s 前不得再拨打。"),
    "call_open": _(
        "该笔债务另有一通已放行、尚未回报结果的呼叫（可能正在与债务人通话），请待其结果回报后再拨打。"
    ),
    "visit_collectors": _("外访须至少 %(min)s 名在岗且培训有效的催收员，目前为 %(count)s 名。"),
    "visit_slot": _("外访须填写开始和结束时间，且结束晚于开始。"),
    "sms_daily_cap": _("该债务人今日短信已达上限 %(cap)s 条。"),
}

NOTICES: dict[str, Any] = {
    "third_party_script": _(
        "第三方通话：只可询问债务人联系方式或请其转告，不得透露欠款金额和逾期时间。"
    ),
    "consent_window": _("时段外联系，依据债务人同意记录放行。"),
    "estimated_zone": _("未知债务人所在时区，按配置的默认时区判断。"),
}

KIND_LABELS: dict[str, Any] = {
    "phone": _("电话号码"),
    "email": _("邮箱"),
    "address": _("地址"),
}

WEEKDAY_LABELS = (
    _("周一"),
    _("周二"),
    _("周三"),
    _("周四"),
    _("周五"),
    _("周六"),
    _("周日"),
)


def _render(template: Any, params: Mapping[str, Any]) -> str:
    shown = {k: _display(k, v) for k, v in params.items()}
    try:
        return str(template) % shown
    except (KeyError, TypeError, ValueError):
        return str(template)


def _display(key: str, value: Any) -> Any:
    if key == "channel":
        return str(CHANNEL_LABELS.get(value, value))
    if key == "kind":
        return str(KIND_LABELS.get(value, value))
    if key == "weekday" and isinstance(value, int):
        return str(WEEKDAY_LABELS[value])
    if key == "reason":
        from recoup.cases.models import Hold

        return str(dict(Hold.Reason.choices).get(value, value))
    if key == "status":
        from recoup.cases.models import Case

        return str(dict(Case.Status.choices).get(value, value))
    return value


def reason(code: str, params: Mapping[str, Any] | None = None, language: str | None = None) -> str:
    """The reason of a refusing rule in ``language`` (the active language when None)."""
    template = REASONS.get(code) or NOTICES.get(code)
    if template is None:
        return code
    if language is None:
        return _render(template, params or {})
    with translation.override(language):
        return _render(template, params or {})
