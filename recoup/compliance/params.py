"""The catalogue of compliance parameters and how stacked profiles combine (COMPLIANCE.md §F).

A profile version sets some of these parameters; a parameter a profile does not set is not a
rule of that profile. When several profiles apply (the contract's stack, e.g. ``cn-default``
plus the contract's own overrides, or ``us-federal`` + ``us-ma``), each parameter takes the
**most restrictive** value among the profiles that set it: the later window start, the
earlier window end, the lower cap, the longer cool-down, the union of restricted channels.
A contract override therefore tightens; it never loosens a regulator's number.

The values live in the database (``ProfileVersion.params``), edited by the compliance role;
this module only knows their names, types and which direction is stricter.
"""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import time
from typing import Any

from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

CHANNELS: tuple[str, ...] = ("call", "robot", "sms", "email", "im", "letter", "visit")
VOICE_CHANNELS: frozenset[str] = frozenset({"call", "robot"})
WEEKDAYS: tuple[int, ...] = (0, 1, 2, 3, 4, 5, 6)  # Monday = 0


class ParamError(ValueError):
    """A parameter value that cannot be used; the message names the parameter."""


@dataclass(frozen=True)
class Param:
    name: str
    kind: str  # int, bool, time, zones, channels, weekdays
    combine: str  # min, max, and, or, union, latest (time), earliest (time)
    label: Any  # lazy zh-hans label (English in the catalogue)
    help: Any = ""


PARAMS: tuple[Param, ...] = (
    Param(
        "window_start",
        "time",
        "latest",
        _("可联系时段开始"),
        _("债务人当地时间，早于此时不得联系（CN 08:00，US 08:00）"),
    ),
    Param(
        "window_end",
        "time",
        "earliest",
        _("可联系时段结束"),
        _("债务人当地时间，此时及以后不得联系（CN 22:00，US 21:00）"),
    ),
    Param("window_channels", "channels", "union", _("受时段限制的渠道")),
    Param(
        "consent_overrides_window",
        "bool",
        "and",
        _("债务人同意可在时段外联系"),
        _("有同意记录（渠道、时间、证据）时，时段外的联系可放行"),
    ),
    Param("time_zones", "zones", "union", _("默认时区")),
    Param(
        "all_candidate_zones",
        "bool",
        "or",
        _("所有候选时区都须在时段内"),
        _("US：号码区号、地址等每个可能的时区都须在 08:00–21:00 内"),
    ),
    Param("blocked_weekdays", "weekdays", "union", _("禁止联系的星期")),
    Param(
        "max_conversations_per_debtor_per_day",
        "int",
        "min",
        _("每位债务人每日有效通话上限"),
        _("跨催收员、渠道和机器人（GB/T 45251：3 次）"),
    ),
    Param(
        "max_unanswered_per_number_per_day",
        "int",
        "min",
        _("每个号码每日未接通拨打上限"),
        _("中银协 2026：不宜超过 6 次"),
    ),
    Param(
        "third_party_unlock_failures",
        "int",
        "max",
        _("连续几次联系不上本人后可联系第三方"),
        _("中银协 2026：本人号码无效或连续 3 次联系不上"),
    ),
    Param("third_party_contact_allowed", "bool", "and", _("允许联系第三方")),
    Param(
        "max_conversations_per_third_party",
        "int",
        "min",
        _("每位第三方通话次数上限"),
        _("US 1692b：每位第三方仅一次"),
    ),
    Param(
        "max_calls_per_debt_7d",
        "int",
        "min",
        _("每笔债务连续 7 日拨打上限"),
        _("US Reg F 1006.14：7 日 7 次；MA：7 日 2 次"),
    ),
    Param(
        "conversation_cooldown_days",
        "int",
        "max",
        _("通话后冷静期（天）"),
        _("US Reg F：通话当日为第 1 天，7 日内不再拨打"),
    ),
    Param("visit_min_collectors", "int", "max", _("外访最少人数"), _("中银协 2026 第 22 条：2 人")),
    Param("sms_per_debtor_per_day", "int", "min", _("每位债务人每日短信上限")),
    Param(
        "plan_max_months",
        "int",
        "min",
        _("还款计划最长月数（自签署日起）"),
        _("seed 001：6 个月；信用卡个性化分期上限 60 个月（2011 办法第 70 条，超过一律拒绝）"),
    ),
    Param(
        "plan_first_instalment_min_pct",
        "int",
        "max",
        _("首期还款须超过欠款总额的百分比"),
        _("seed 001：首期须大于欠款总额的 20%"),
    ),
    Param(
        "plan_grace_days",
        "int",
        "min",
        _("分期逾期宽限天数"),
        _("到期日后仍未还足即视为违约的天数（机构自定，委托方还款文件通常晚 1–3 天）"),
    ),
    Param(
        "recording_retention_days",
        "int",
        "max",
        _("录音最短保存期（天）"),
        _("2011 办法第 68 条：至少 2 年"),
    ),
)

BY_NAME: dict[str, Param] = {p.name: p for p in PARAMS}

_TIME_RE = re.compile(r"^([01]\d|2[0-4]):([0-5]\d)$")


def parse_time(value: str) -> time:
    """``"08:00"`` → time(8, 0); ``"24:00"`` means the end of the day."""
    match = _TIME_RE.match(str(value).strip())
    if not match or (match.group(1) == "24" and match.group(2) != "00"):
        raise ParamError(str(value))
    hour, minute = int(match.group(1)), int(match.group(2))
    if hour == 24:
        return time.max
    return time(hour, minute)


def _clean_one(param: Param, value: Any) -> Any:
    kind = param.kind
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            try:
                value = int(str(value).strip())
            except ValueError:
                raise ParamError(_("%(name)s须为不小于 0 的整数") % {"name": param.label}) from None
            if value < 0:
                raise ParamError(_("%(name)s须为不小于 0 的整数") % {"name": param.label})
        return value
    if kind == "bool":
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in {"true", "1", "yes", "是"}:
            return True
        if text in {"false", "0", "no", "否"}:
            return False
        raise ParamError(_("%(name)s须为是或否") % {"name": param.label})
    if kind == "time":
        try:
            parsed = parse_time(value)
        except ParamError:
            raise ParamError(
                _("%(name)s须为 HH:MM 格式的时间，如 08:00") % {"name": param.label}
            ) from None
        return "24:00" if parsed == time.max else parsed.strftime("%H:%M")
    items = _as_list(value)
    if kind == "channels":
        bad = [c for c in items if c not in CHANNELS]
        if bad:
            raise ParamError(
                _("%(name)s含未知渠道：%(bad)s") % {"name": param.label, "bad": ", ".join(bad)}
            )
        return sorted(set(items), key=CHANNELS.index)
    if kind == "weekdays":
        try:
            days = sorted({int(d) for d in items})
        except ValueError:
            raise ParamError(
                _("%(name)s须为 0（周一）到 6（周日）") % {"name": param.label}
            ) from None
        if any(d not in WEEKDAYS for d in days):
            raise ParamError(_("%(name)s须为 0（周一）到 6（周日）") % {"name": param.label})
        return days
    if kind == "zones":
        zones = []
        for zone in items:
            try:
                zoneinfo.ZoneInfo(zone)
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                raise ParamError(
                    _("%(name)s含未知时区：%(bad)s") % {"name": param.label, "bad": zone}
                ) from None
            zones.append(zone)
        return zones
    raise ParamError(param.name)  # pragma: no cover - the catalogue has no other kind


def _as_list(value: Any) -> list[str]:
    if isinstance(value, str):
        return [part.strip() for part in re.split(r"[,，、\s]+", value) if part.strip()]
    if isinstance(value, Iterable):
        return [str(v).strip() for v in value if str(v).strip()]
    return [str(value)]


def clean_params(raw: Mapping[str, Any]) -> dict[str, Any]:
    """Validate a profile's parameters; unknown names and bad values raise ``ParamError``.

    A value of ``None`` or ``""`` means "this profile does not set it" and is dropped.
    """
    unknown = sorted(set(raw) - set(BY_NAME))
    if unknown:
        raise ParamError(_("未知参数：%(names)s") % {"names": ", ".join(unknown)})
    cleaned: dict[str, Any] = {}
    for name, value in raw.items():
        if value is None or value == "" or value == []:
            continue
        cleaned[name] = _clean_one(BY_NAME[name], value)
    start, end = cleaned.get("window_start"), cleaned.get("window_end")
    if start is not None and end is not None and parse_time(start) >= parse_time(end):
        raise ParamError(_("可联系时段开始须早于结束"))
    return cleaned


def _time_key(value: str) -> time:
    return parse_time(value)


_COMBINE: dict[str, Callable[[list[Any]], Any]] = {
    "min": min,
    "max": max,
    "and": all,
    "or": any,
    "union": lambda values: sorted({v for vs in values for v in vs}, key=str),
    "latest": lambda values: max(values, key=_time_key),
    "earliest": lambda values: min(values, key=_time_key),
}


def stack(layers: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """The effective parameters of profiles applied together: the most restrictive wins."""
    collected: dict[str, list[Any]] = {}
    for layer in layers:
        for name, value in layer.items():
            if name in BY_NAME:  # a parameter since removed from the catalogue has no rule
                collected.setdefault(name, []).append(value)
    effective = {
        name: _COMBINE[BY_NAME[name].combine](values) for name, values in collected.items()
    }
    if "window_channels" in effective:
        effective["window_channels"] = [c for c in CHANNELS if c in effective["window_channels"]]
    return effective


def describe(name: str) -> str:
    """The label of a parameter in the active language (for the editor and the decision log)."""
    param = BY_NAME.get(name)
    return str(param.label) if param else name


CHANNEL_LABELS: dict[str, Any] = {
    "call": _("电话"),
    "robot": _("智能语音"),
    "sms": _("短信"),
    "email": _("邮件"),
    "im": _("即时消息"),
    "letter": _("信函"),
    "visit": pgettext_lazy("contact channel", "外访"),
}
