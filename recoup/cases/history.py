"""A case's history: labels for its audit actions, and lines other apps add."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

if TYPE_CHECKING:
    from recoup.cases.models import Case

ACTION_LABELS: dict[str, Promise] = {
    "cases.case.opened": _("案件建立"),
    "cases.case.viewed": _("查看案件"),
    "cases.case.status_changed": _("状态变更"),
    "cases.hold.placed": _("设置停催"),
    "cases.hold.released": _("解除停催"),
    "cases.contact.unmasked": _("查看完整联系方式"),
    "cases.debtor.unmasked": _("查看完整债务人信息"),
}


def register_action_labels(labels: Mapping[str, Promise]) -> None:
    """Apps above ``cases`` name their own audit actions (from ``AppConfig.ready``)."""
    ACTION_LABELS.update(labels)


def action_label(action: str) -> str:
    label = ACTION_LABELS.get(action)
    return str(label) if label is not None else action


@dataclass(frozen=True)
class HistoryItem:
    """A line of a case's history that is not an audit event of the case itself (e.g. the
    allocation runs that moved it), shaped like one for the template."""

    occurred_at: datetime
    actor_label: str
    label: str
    action: str


HistoryProvider = Callable[["Case"], list[HistoryItem]]
_PROVIDERS: list[HistoryProvider] = []


def register_history_provider(provider: HistoryProvider) -> None:
    """Apps above ``cases`` add their own lines to the case history (called from their
    ``AppConfig.ready``: the same in every process)."""
    if provider not in _PROVIDERS:
        _PROVIDERS.append(provider)


def extra_history(case: Case) -> list[HistoryItem]:
    items: list[HistoryItem] = []
    for provider in _PROVIDERS:
        items.extend(provider(case))
    return items
