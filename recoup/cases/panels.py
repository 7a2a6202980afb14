"""Panels other apps add to the case page (e.g. repayment plans and payments).

An app above ``cases`` registers a function from its ``AppConfig.ready`` (the same in every
process); the case page renders each panel's template with the context it returns.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from recoup.accounts.models import User
    from recoup.cases.models import Case


@dataclass(frozen=True)
class CasePanel:
    template: str
    context: dict[str, Any]


CasePanelProvider = Callable[["User", "Case"], "CasePanel | None"]
_PROVIDERS: list[CasePanelProvider] = []


def register_case_panel(provider: CasePanelProvider) -> None:
    if provider not in _PROVIDERS:
        _PROVIDERS.append(provider)


def case_panels_for(user: User, case: Case) -> list[CasePanel]:
    return [panel for provider in _PROVIDERS if (panel := provider(user, case)) is not None]
