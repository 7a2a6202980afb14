"""Login, lockout, single session and API tokens (SPEC §7)."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.conf import settings
from django.contrib.auth import login as django_login
from django.contrib.auth import logout as django_logout
from django.contrib.auth.password_validation import validate_password
from django.contrib.sessions.models import Session
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.http import HttpRequest
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop, ngettext

from recoup.accounts.models import (
    ApiToken,
    Organisation,
    OrgUnit,
    Role,
    RoleAssignment,
    Team,
    User,
)
from recoup.audit.services import audit_record
from recoup.core.clock import now
from recoup.core.exceptions import PermissionDenied, RecoupError

GENERIC_LOGIN_ERROR = gettext_noop("用户名或密码错误。")
TOKEN_PREFIX = "rcp_"  # noqa: S105  (a public prefix that makes leaked tokens greppable)


class LoginLocked(RecoupError):
    code = "locked"


def lockout_message(locked_until: datetime) -> str:
    minutes = max(1, int((locked_until - now()).total_seconds() + 59) // 60)
    return ngettext(
        "登录失败次数过多，账户已锁定，请在 %(minutes)d 分钟后重试。",
        "登录失败次数过多，账户已锁定，请在 %(minutes)d 分钟后重试。",
        minutes,
    ) % {"minutes": minutes}


@dataclass(frozen=True)
class LoginResult:
    user: User | None
    error: str = ""


def user_authenticate(*, username: str, password: str) -> LoginResult:
    """Check a password with lockout after RECOUP_LOCKOUT_THRESHOLD failures.

    Wrong user name and wrong password get the same generic message. Failures are counted
    with an atomic ``F()`` update (two parallel wrong guesses both count); reaching the
    threshold locks the account for RECOUP_LOCKOUT_MINUTES and audits the lockout.
    While locked, even the right password is refused with a message naming the wait.
    """
    user = User.objects.filter(username=username).first()
    if user is None:
        # Spend the same time as a real check so user names cannot be probed by timing.
        User().set_password(password)
        with transaction.atomic():
            audit_record(
                action="accounts.login.failed",
                actor=None,
                organisation=None,
                # Not the typed name itself: people type passwords into the user-name field.
                data={
                    "username_hint": username[:2] + "***",
                    "length": len(username),
                    "reason": "unknown_user",
                },
            )
        return LoginResult(None, _(GENERIC_LOGIN_ERROR))
    if user.is_locked():
        assert user.locked_until is not None
        with transaction.atomic():
            audit_record(
                action="accounts.login.refused_locked",
                actor=user,
                organisation=user.organisation_id,
            )
        return LoginResult(None, lockout_message(user.locked_until))
    if not user.check_password(password) or not user.is_active or user.status != "active":
        with transaction.atomic():
            User.objects.filter(pk=user.pk).update(failed_login_count=F("failed_login_count") + 1)
            user.refresh_from_db(fields=["failed_login_count"])
            audit_record(
                action="accounts.login.failed",
                actor=user,
                organisation=user.organisation_id,
                data={"failures": user.failed_login_count},
            )
            if user.failed_login_count >= settings.RECOUP_LOCKOUT_THRESHOLD:
                until = now() + timedelta(minutes=settings.RECOUP_LOCKOUT_MINUTES)
                User.objects.filter(pk=user.pk).update(locked_until=until, failed_login_count=0)
                audit_record(
                    action="accounts.user.locked_out",
                    actor=user,
                    organisation=user.organisation_id,
                    data={"until": until, "minutes": settings.RECOUP_LOCKOUT_MINUTES},
                )
                return LoginResult(None, lockout_message(until))
        return LoginResult(None, _(GENERIC_LOGIN_ERROR))
    return LoginResult(user)


@transaction.atomic
def user_login(*, request: HttpRequest, user: User) -> None:
    """Start a session and end any other session of the same person (IDs are not shared)."""
    django_login(request, user)
    old_key = user.current_session_key
    new_key = request.session.session_key or ""
    if old_key and old_key != new_key:
        Session.objects.filter(session_key=old_key).delete()
    User.objects.filter(pk=user.pk).update(
        current_session_key=new_key, failed_login_count=0, locked_until=None
    )
    user.current_session_key = new_key
    audit_record(
        action="accounts.login.succeeded",
        actor=user,
        organisation=user.organisation_id,
        data={"ended_other_session": bool(old_key and old_key != new_key)},
    )


@transaction.atomic
def user_logout(*, request: HttpRequest, reason: str = "logout") -> None:
    """End the request's session and record why (a person's own logout, or a newer login)."""
    user = request.user
    if isinstance(user, User) and user.is_authenticated:
        audit_record(
            action="accounts.session.ended",
            actor=user,
            organisation=user.organisation_id,
            data={"reason": reason},
        )
    django_logout(request)


@transaction.atomic
def user_unlock(*, user: User, actor: User) -> None:
    _require_people_admin(actor, user.organisation_id)
    User.objects.filter(pk=user.pk).update(locked_until=None, failed_login_count=0)
    audit_record(
        action="accounts.user.unlocked",
        actor=actor,
        organisation=user.organisation_id,
        object_type="user",
        object_id=user.pk,
    )


def _hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


@transaction.atomic
def api_token_create(
    *,
    organisation: Organisation,
    user: User,
    role: str,
    name: str,
    expires_at: datetime | None,
    actor: User | None,
) -> tuple[ApiToken, str]:
    """Issue a token for a system client; the raw token is returned once and never stored."""
    if role not in user.role_codes:
        raise RecoupError(_("令牌的角色必须是该用户拥有的角色。"))
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        organisation=organisation,
        user=user,
        role=role,
        name=name,
        prefix=raw[:12],
        token_hash=_hash_token(raw),
        expires_at=expires_at,
    )
    audit_record(
        action="accounts.api_token.created",
        actor=actor,
        organisation=organisation,
        object_type="api_token",
        object_id=token.pk,
        data={"name": name, "role": role, "user": user.username, "expires_at": expires_at},
    )
    return token, raw


def api_token_authenticate(raw: str) -> User | None:
    """The token's user with roles narrowed to the token's role, or None (→ 401)."""
    token = (
        ApiToken.objects.select_related("user", "user__unit")
        .filter(token_hash=_hash_token(raw))
        .first()
    )
    at = now()
    if token is None or token.revoked_at is not None:
        return None
    if token.expires_at is not None and token.expires_at <= at:
        return None
    user = token.user
    if not user.is_active or user.status != "active":
        return None
    # Narrow the request's roles to the token's (see User.role_codes).
    user.token_role_codes = frozenset({token.role})  # type: ignore[attr-defined]
    if token.last_used_at is None or at - token.last_used_at > timedelta(minutes=5):
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=at)
    return user


@transaction.atomic
def api_token_revoke(*, token: ApiToken, actor: User) -> None:
    """Revoke a token: its own user, or a system admin of the same organisation."""
    if actor.pk != token.user_id:
        _require_people_admin(actor, token.organisation_id)
    ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=now())
    audit_record(
        action="accounts.api_token.revoked",
        actor=actor,
        organisation=token.organisation_id,
        object_type="api_token",
        object_id=token.pk,
    )


PEOPLE_ADMINS = (Role.Code.SYSTEM_ADMIN,)


def _require_people_admin(actor: User, organisation_id: int | None) -> int:
    if (
        not actor.has_role(*PEOPLE_ADMINS)
        or actor.organisation_id is None
        or actor.organisation_id != organisation_id
    ):
        raise PermissionDenied(_("只有系统管理员可以管理人员和角色。"))
    return actor.organisation_id


@dataclass(frozen=True)
class PersonInput:
    username: str
    display_name: str
    unit_id: int | None
    team_id: int | None
    roles: tuple[str, ...]
    training_valid_until: date | None = None
    nda_valid_until: date | None = None


def _check_person(organisation: Organisation, data: PersonInput) -> None:
    if not data.roles:
        raise RecoupError(_("每个人至少要有一个角色。"))
    unknown = set(data.roles) - set(Role.Code.values)
    if unknown:
        raise RecoupError(_("未知角色：%(roles)s") % {"roles": ", ".join(sorted(unknown))})
    if (
        data.unit_id
        and not OrgUnit.objects.filter(pk=data.unit_id, organisation=organisation).exists()
    ):
        raise RecoupError(_("机构不存在。"))
    if data.team_id:
        team = Team.objects.filter(pk=data.team_id, organisation=organisation).first()
        if team is None:
            raise RecoupError(_("小组不存在。"))
        if data.unit_id and team.branch_id != data.unit_id:
            raise RecoupError(_("小组不属于所选分公司。"))
    if Role.Code.CLIENT_USER in data.roles and len(data.roles) > 1:
        raise RecoupError(_("委托方账号不能兼任机构内部角色。"))


def _set_roles(user: User, roles: tuple[str, ...], actor: User) -> tuple[list[str], list[str]]:
    current = set(RoleAssignment.objects.filter(user=user).values_list("role__code", flat=True))
    wanted = set(roles)
    RoleAssignment.objects.filter(user=user, role__code__in=current - wanted).delete()
    by_code = {r.code: r for r in Role.objects.filter(code__in=wanted - current)}
    RoleAssignment.objects.bulk_create(
        [
            RoleAssignment(user=user, role=by_code[c], granted_by=actor)
            for c in sorted(wanted - current)
        ]
    )
    return sorted(wanted - current), sorted(current - wanted)


@transaction.atomic
def person_create(
    *, organisation: Organisation, data: PersonInput, password: str, actor: User
) -> User:
    """Create a person with their own login (never shared, SPEC §7) and their roles."""
    _require_people_admin(actor, organisation.pk)
    _check_person(organisation, data)
    username = data.username.strip()
    if not username:
        raise RecoupError(_("用户名不能为空。"))
    if User.objects.filter(username=username).exists():
        raise RecoupError(_("用户名 %(username)s 已存在。") % {"username": username})
    user = User(
        username=username,
        display_name=data.display_name.strip(),
        organisation=organisation,
        unit_id=data.unit_id,
        team_id=data.team_id,
        training_valid_until=data.training_valid_until,
        nda_valid_until=data.nda_valid_until,
    )
    try:
        validate_password(password, user)
    except ValidationError as exc:
        raise RecoupError(" ".join(exc.messages)) from exc
    user.set_password(password)
    try:
        user.full_clean()
    except ValidationError as exc:
        raise RecoupError(" ".join(exc.messages)) from exc
    user.save()
    _set_roles(user, data.roles, actor)
    audit_record(
        action="accounts.user.created",
        actor=actor,
        organisation=organisation,
        object_type="user",
        object_id=user.pk,
        data={
            "username": username,
            "roles": sorted(data.roles),
            "unit": data.unit_id,
            "team": data.team_id,
        },
    )
    return user


@transaction.atomic
def person_update(*, person: User, data: PersonInput, actor: User) -> User:
    """Change a person's unit, team, roles and training/NDA dates; audited with before/after."""
    _require_people_admin(actor, person.organisation_id)
    assert person.organisation is not None
    _check_person(person.organisation, data)
    before = {
        "display_name": person.display_name,
        "unit": person.unit_id,
        "team": person.team_id,
        "training_valid_until": person.training_valid_until,
        "nda_valid_until": person.nda_valid_until,
    }
    person.display_name = data.display_name.strip()
    person.unit_id = data.unit_id
    person.team_id = data.team_id
    person.training_valid_until = data.training_valid_until
    person.nda_valid_until = data.nda_valid_until
    person.save(
        update_fields=["display_name", "unit", "team", "training_valid_until", "nda_valid_until"]
    )
    added, removed = _set_roles(person, data.roles, actor)
    after = {
        **before,
        "display_name": person.display_name,
        "unit": person.unit_id,
        "team": person.team_id,
        "training_valid_until": person.training_valid_until,
        "nda_valid_until": person.nda_valid_until,
    }
    audit_record(
        action="accounts.user.updated",
        actor=actor,
        organisation=person.organisation_id,
        object_type="user",
        object_id=person.pk,
        data={
            "changed": {k: [before[k], after[k]] for k in before if before[k] != after[k]},
            "roles_added": added,
            "roles_removed": removed,
        },
    )
    return person


@transaction.atomic
def person_depart(*, person: User, actor: User, via_handover: int | None = None) -> User:
    """A person leaves: login ends at once, sessions and API tokens die, history stays.

    Their cases are handed over by the hand-over (交接) flow of ``recoup.allocation``, whose
    commit may end the person's access itself (``via_handover`` = the run's id): the
    supervisor who signs the hand-over off is then allowed to, and the audit says so.
    """
    if via_handover is None:
        _require_people_admin(actor, person.organisation_id)
    elif actor.organisation_id is None or actor.organisation_id != person.organisation_id:
        raise PermissionDenied(_("无权操作该人员。"))
    if person.pk == actor.pk:
        raise RecoupError(_("不能将自己设为离职。"))
    # One live session per person (user_login), so ending it ends their access at once.
    if person.current_session_key:
        Session.objects.filter(session_key=person.current_session_key).delete()
    person.status = User.Status.DEPARTED
    person.is_active = False
    person.current_session_key = ""
    person.save(update_fields=["status", "is_active", "current_session_key"])
    revoked = ApiToken.objects.filter(user=person, revoked_at__isnull=True).update(revoked_at=now())
    audit_record(
        action="accounts.user.departed",
        actor=actor,
        organisation=person.organisation_id,
        object_type="user",
        object_id=person.pk,
        data={"tokens_revoked": revoked, "handover_run": via_handover},
    )
    return person


def roles_ensure() -> None:
    """Make sure every role of SPEC §1 exists as a row (idempotent).

    The data migration 0002_seed_roles does this on migrate; this covers databases that were
    flushed since (transactional tests) and is safe to call at any time.
    """
    from recoup.accounts.roles import ROLE_NAMES_EN

    existing = set(Role.objects.values_list("code", flat=True))
    missing = [
        Role(code=code, name=str(label), name_en=ROLE_NAMES_EN[code])
        for code, label in Role.Code.choices
        if code not in existing
    ]
    if missing:
        Role.objects.bulk_create(missing, ignore_conflicts=True)


@transaction.atomic
def organisation_create(
    *, name: str, code: str, hq_name: str, admin_username: str, admin_password: str
) -> tuple[Organisation, User]:
    """Set up a new agency: the organisation, its headquarters and its first system admin.

    Run once per agency from the command line (``manage.py create_agency``); everything
    after that is done by the admin in the UI, audited.
    """
    roles_ensure()
    if Organisation.objects.filter(code=code).exists():
        raise RecoupError(_("机构代码 %(code)s 已存在。") % {"code": code})
    if User.objects.filter(username=admin_username).exists():
        raise RecoupError(_("用户名 %(username)s 已存在。") % {"username": admin_username})
    org = Organisation.objects.create(name=name, code=code)
    hq = OrgUnit.objects.create(organisation=org, kind=OrgUnit.Kind.HQ, name=hq_name, code="hq")
    admin = User(username=admin_username, organisation=org, unit=hq, display_name=admin_username)
    try:
        validate_password(admin_password, admin)
    except ValidationError as exc:
        raise RecoupError(" ".join(exc.messages)) from exc
    admin.set_password(admin_password)
    admin.save()
    RoleAssignment.objects.create(user=admin, role=Role.objects.get(code=Role.Code.SYSTEM_ADMIN))
    audit_record(
        action="accounts.organisation.created",
        actor=None,
        organisation=org,
        data={"name": name, "code": code, "admin": admin_username},
    )
    return org, admin


@transaction.atomic
def branch_create(*, name: str, code: str, region: str = "", actor: User) -> OrgUnit:
    """Open a branch (分公司) under the agency's headquarters."""
    org_id = _require_people_admin(actor, actor.organisation_id)
    hq = OrgUnit.objects.filter(organisation_id=org_id, kind=OrgUnit.Kind.HQ).first()
    if OrgUnit.objects.filter(organisation_id=org_id, code=code).exists():
        raise RecoupError(_("机构代码 %(code)s 已存在。") % {"code": code})
    unit = OrgUnit.objects.create(
        organisation_id=org_id,
        kind=OrgUnit.Kind.BRANCH,
        name=name.strip(),
        code=code.strip(),
        parent=hq,
        region=region,
    )
    audit_record(
        action="accounts.branch.created",
        actor=actor,
        organisation=org_id,
        object_type="org_unit",
        object_id=unit.pk,
        data={"name": unit.name, "code": unit.code},
    )
    return unit


@transaction.atomic
def team_create(*, branch_id: int, name: str, code: str, actor: User) -> Team:
    """Form a team (小组) inside a branch."""
    org_id = _require_people_admin(actor, actor.organisation_id)
    branch = OrgUnit.objects.filter(
        organisation_id=org_id, pk=branch_id, kind=OrgUnit.Kind.BRANCH
    ).first()
    if branch is None:
        raise RecoupError(_("分公司不存在。"))
    if Team.objects.filter(organisation_id=org_id, code=code).exists():
        raise RecoupError(_("小组代码 %(code)s 已存在。") % {"code": code})
    team = Team.objects.create(
        organisation_id=org_id, branch=branch, name=name.strip(), code=code.strip()
    )
    audit_record(
        action="accounts.team.created",
        actor=actor,
        organisation=org_id,
        object_type="team",
        object_id=team.pk,
        data={"name": team.name, "code": team.code, "branch": branch.code},
    )
    return team
