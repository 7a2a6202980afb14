"""Login, lockout, single session and API tokens (SPEC §7)."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import login as django_login
from django.contrib.sessions.models import Session
from django.db import transaction
from django.db.models import F
from django.http import HttpRequest
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from recoup.accounts.models import ApiToken, Organisation, Role, User
from recoup.audit.services import audit_record
from recoup.core.clock import now
from recoup.core.exceptions import PermissionDenied, RecoupError

GENERIC_LOGIN_ERROR = "用户名或密码错误。"
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
                data={"username": username[:150], "reason": "unknown_user"},
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
def user_unlock(*, user: User, actor: User) -> None:
    if not actor.has_role(Role.Code.SYSTEM_ADMIN) or actor.organisation_id != user.organisation_id:
        raise PermissionDenied(_("你没有权限执行此操作。"))
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
    ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=now())
    audit_record(
        action="accounts.api_token.revoked",
        actor=actor,
        organisation=token.organisation_id,
        object_type="api_token",
        object_id=token.pk,
    )
