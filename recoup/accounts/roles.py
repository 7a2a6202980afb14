"""What each role may do, and over which cases (SPEC §1).

Each role grants a *scope* (which cases it reaches) and a set of *actions* over that scope.
A person holding several roles gets, for each action, the union of the scopes of the roles
that grant it: a collector who is also a quality inspector may unmask contacts on their own
cases (collector) but only read the branch's other cases (inspector).

Scopes:
    own     cases assigned to the person
    team    cases of the person's team
    branch  cases of the person's branch (a person at HQ: every branch)
    org     every case of the agency
    client  cases of the client the login belongs to (client portal)
    none    no case content (system administrators, SPEC §1)
"""

from __future__ import annotations

from dataclasses import dataclass

from recoup.accounts.models import Role

C = Role.Code


@dataclass(frozen=True)
class Capability:
    scope: str
    actions: frozenset[str]


VIEW = "view"  # see the case and its masked personal data
UNMASK = "unmask"  # reveal a full phone, ID number or address (audited)
HOLD = "hold"  # put on or release a stop-collection hold (停催)
TRANSITION = "transition"  # move the case through its status table
WORK = "work"  # log contacts and actions (later issues)
ALLOCATE = "allocate"  # give cases to collectors, re-allocate, recall to the pool (分案)
PAYMENTS = "payments"  # record, match, reject and reverse payments (回款); reconcile

ROLE_CAPABILITIES: dict[str, Capability] = {
    C.COLLECTOR: Capability("own", frozenset({VIEW, UNMASK, WORK})),
    C.FIELD_COLLECTOR: Capability("own", frozenset({VIEW, UNMASK, WORK})),
    C.TEAM_LEADER: Capability("team", frozenset({VIEW, UNMASK, WORK})),
    C.SUPERVISOR: Capability(
        "branch", frozenset({VIEW, UNMASK, HOLD, TRANSITION, WORK, ALLOCATE, PAYMENTS})
    ),
    C.ADMIN_ASSISTANT: Capability("branch", frozenset({VIEW, PAYMENTS})),
    C.QUALITY_INSPECTOR: Capability("branch", frozenset({VIEW})),
    C.RISK_OFFICER: Capability("org", frozenset({VIEW, UNMASK, HOLD})),
    C.BRANCH_MANAGER: Capability(
        "branch", frozenset({VIEW, UNMASK, HOLD, TRANSITION, ALLOCATE, PAYMENTS})
    ),
    C.HQ: Capability("org", frozenset({VIEW, UNMASK, HOLD, TRANSITION, ALLOCATE, PAYMENTS})),
    C.CLIENT_USER: Capability("client", frozenset({VIEW})),
    C.SYSTEM_ADMIN: Capability("none", frozenset()),
    # Keeps the compliance profiles and the forbidden-word lexicon; reads cases to review
    # refused contacts, never works them.
    C.COMPLIANCE_OFFICER: Capability("org", frozenset({VIEW})),
}

# Navigation entries a role sees (the UI shell); policies still decide every request.
ROLE_NAV: dict[str, tuple[str, ...]] = {
    C.COLLECTOR: ("work", "cases"),
    C.FIELD_COLLECTOR: ("work", "cases"),
    C.TEAM_LEADER: ("work", "team_figures", "cases", "plans", "reductions", "allocation"),
    C.SUPERVISOR: (
        "team_figures",
        "cases",
        "allocation",
        "intake",
        "payments",
        "statements",
        "plans",
        "reductions",
        "people",
        "clients",
        "workdays",
        "compliance",
        "messaging",
        "result_codes",
    ),
    C.ADMIN_ASSISTANT: (
        "cases",
        "intake",
        "payments",
        "statements",
        "plans",
        "reductions",
        "clients",
        "messaging",
        "result_codes",
    ),
    C.QUALITY_INSPECTOR: ("cases", "compliance"),
    C.RISK_OFFICER: ("cases", "intake", "clients", "compliance"),
    C.BRANCH_MANAGER: (
        "cases",
        "allocation",
        "intake",
        "payments",
        "statements",
        "plans",
        "reductions",
        "scorecard",
        "people",
        "clients",
        "workdays",
        "compliance",
        "messaging",
        "result_codes",
    ),
    C.HQ: (
        "cases",
        "allocation",
        "intake",
        "payments",
        "statements",
        "plans",
        "reductions",
        "scorecard",
        "people",
        "clients",
        "workdays",
        "compliance",
        "messaging",
        "result_codes",
    ),
    C.CLIENT_USER: ("cases", "intake", "clients"),
    C.SYSTEM_ADMIN: ("people", "clients", "workdays", "compliance", "reductions"),
    C.COMPLIANCE_OFFICER: ("cases", "compliance", "messaging"),
}


def scopes_for(role_codes: frozenset[str], action: str) -> set[str]:
    """The scopes in which a holder of ``role_codes`` may perform ``action``."""
    return {
        cap.scope
        for code in role_codes
        if (cap := ROLE_CAPABILITIES.get(code)) is not None and action in cap.actions
    }


ROLE_NAMES_EN: dict[str, str] = {
    C.COLLECTOR: "Phone collector",
    C.FIELD_COLLECTOR: "Field collector",
    C.TEAM_LEADER: "Team leader",
    C.SUPERVISOR: "Supervisor",
    C.ADMIN_ASSISTANT: "Admin assistant (bank liaison)",
    C.QUALITY_INSPECTOR: "Quality inspector",
    C.RISK_OFFICER: "Risk officer",
    C.BRANCH_MANAGER: "Branch manager",
    C.HQ: "Headquarters",
    C.CLIENT_USER: "Client (bank) user",
    C.SYSTEM_ADMIN: "System administrator",
    C.COMPLIANCE_OFFICER: "Compliance officer",
}
