"""Panels other apps add to the collector's case workspace (e.g. SMS and letters).

An app above ``contact`` registers a function from its ``AppConfig.ready`` (the same in every
process); the workspace renders each panel's template with the context it returns.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from recoup.accounts.models import User
    from recoup.cases.models import Case


@dataclass(frozen=True)
class Panel:
    template: str
    context: dict[str, Any]


PanelProvider = Callable[["User", "Case"], "Panel | None"]
_PROVIDERS: list[PanelProvider] = []


def register_workspace_panel(provider: PanelProvider) -> None:
    if provider not in _PROVIDERS:
        _PROVIDERS.append(provider)


def panels_for(user: User, case: Case) -> list[Panel]:
    return [panel for provider in _PROVIDERS if (panel := provider(user, case)) is not None]
