"""Login, lockout, single session, idle expiry, CSRF and CSP (SPEC §7)."""

from datetime import timedelta

import pytest
import time_machine
from django.conf import settings
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from recoup.audit.models import AuditEvent
from recoup.core.clock import now
from tests.fixtures import PASSWORD

pytestmark = pytest.mark.django_db


def _post(client, username, password):
    return client.post("/accounts/login/", {"username": username, "password": password})


def test_it_logs_in_and_audits_the_login(world, client):
    response = _post(client, "ada", PASSWORD)
    assert response.status_code == 302
    assert client.get("/").status_code == 200
    assert AuditEvent.objects.filter(action="accounts.login.succeeded", actor=world.ada).exists()


def test_a_wrong_password_gets_a_generic_message_and_is_counted(world, client):
    response = _post(client, "ada", "wrong")
    body = response.content.decode()
    assert response.status_code == 200
    assert "用户名或密码错误" in body
    world.ada.refresh_from_db()
    assert world.ada.failed_login_count == 1
    assert AuditEvent.objects.filter(action="accounts.login.failed", actor=world.ada).exists()


def test_an_unknown_user_gets_the_same_generic_message(world, client):
    response = _post(client, "nobody", "wrong")
    assert "用户名或密码错误" in response.content.decode()
    assert AuditEvent.objects.filter(action="accounts.login.failed", actor=None).exists()


def test_five_failures_lock_the_account_with_a_message_naming_the_wait(world, client):
    for _ in range(settings.RECOUP_LOCKOUT_THRESHOLD - 1):
        assert "用户名或密码错误" in _post(client, "ada", "wrong").content.decode()
    body = _post(client, "ada", "wrong").content.decode()
    assert "账户已锁定" in body
    assert f"{settings.RECOUP_LOCKOUT_MINUTES} 分钟" in body
    assert AuditEvent.objects.filter(action="accounts.user.locked_out", actor=world.ada).exists()
    # Even the right password is refused while locked.
    response = _post(client, "ada", PASSWORD)
    assert response.status_code == 200
    assert "账户已锁定" in response.content.decode()
    assert client.get("/").status_code == 302


def test_the_lock_expires(world, client):
    for _ in range(settings.RECOUP_LOCKOUT_THRESHOLD):
        _post(client, "ada", "wrong")
    with time_machine.travel(now() + timedelta(minutes=settings.RECOUP_LOCKOUT_MINUTES + 1)):
        assert _post(client, "ada", PASSWORD).status_code == 302


def test_a_second_login_ends_the_first_session(world):
    first, second = Client(), Client()
    assert _post(first, "ada", PASSWORD).status_code == 302
    assert first.get("/cases/").status_code == 200
    assert _post(second, "ada", PASSWORD).status_code == 302
    assert second.get("/cases/").status_code == 200
    response = first.get("/cases/")
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]
    assert AuditEvent.objects.filter(
        action="accounts.login.succeeded", data__ended_other_session=True
    ).exists()


def test_sessions_expire_after_the_idle_timeout(world, client):
    _post(client, "ada", PASSWORD)
    assert settings.SESSION_COOKIE_AGE == settings.RECOUP_SESSION_IDLE_MINUTES * 60
    with time_machine.travel(now() + timedelta(minutes=settings.RECOUP_SESSION_IDLE_MINUTES + 1)):
        assert client.get("/cases/").status_code == 302


def test_activity_keeps_the_session_alive(world, client):
    _post(client, "ada", PASSWORD)
    step = timedelta(minutes=settings.RECOUP_SESSION_IDLE_MINUTES - 5)
    with time_machine.travel(now() + step):
        assert client.get("/cases/").status_code == 200
        with time_machine.travel(now() + step):
            assert client.get("/cases/").status_code == 200


def _session_writes(client, path="/cases/"):
    with CaptureQueriesContext(connection) as queries:
        assert client.get(path).status_code == 200
    return [q for q in queries if "django_session" in q["sql"] and "UPDATE" in q["sql"].upper()]


def test_a_session_in_use_is_written_at_most_once_a_minute(world, client):
    touch = timedelta(seconds=settings.RECOUP_SESSION_TOUCH_SECONDS)
    with time_machine.travel(now(), tick=False) as clock:
        _post(client, "ada", PASSWORD)
        assert _session_writes(client) == []  # just saved by the login
        clock.shift(touch / 2)
        assert _session_writes(client) == []
        clock.shift(touch)
        assert len(_session_writes(client)) == 1  # extended: a minute of use
        assert _session_writes(client) == []


def test_a_session_ends_idle_minutes_after_its_last_extension(world, client):
    idle = timedelta(minutes=settings.RECOUP_SESSION_IDLE_MINUTES)
    touch = timedelta(seconds=settings.RECOUP_SESSION_TOUCH_SECONDS)
    with time_machine.travel(now(), tick=False) as clock:
        _post(client, "ada", PASSWORD)
        clock.shift(touch / 2)  # used, not yet written back
        assert client.get("/cases/").status_code == 200
        clock.shift(idle - touch / 2 - timedelta(seconds=1))
        assert client.get("/cases/").status_code == 200  # 1 s before the end: extended
        clock.shift(idle - timedelta(seconds=1))
        assert client.get("/cases/").status_code == 200
        clock.shift(idle + timedelta(seconds=1))
        response = client.get("/cases/")
        assert response.status_code == 302
        assert "/accounts/login/" in response["Location"]


def test_login_needs_a_csrf_token(world):
    strict = Client(enforce_csrf_checks=True)
    response = strict.post("/accounts/login/", {"username": "ada", "password": PASSWORD})
    assert response.status_code == 403


def test_pages_carry_a_content_security_policy(world, client):
    response = client.get("/accounts/login/")
    csp = response["Content-Security-Policy"]
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp


def test_a_departed_person_cannot_log_in(world, client):
    world.ada.status = "departed"
    world.ada.save(update_fields=["status"])
    assert "用户名或密码错误" in _post(client, "ada", PASSWORD).content.decode()


def test_passwords_are_hashed_with_argon2_in_production_settings():
    from config import settings as prod

    assert prod.PASSWORD_HASHERS[0].endswith("Argon2PasswordHasher")


def test_logout_is_post_only(world, client):
    _post(client, "ada", PASSWORD)
    assert client.get("/accounts/logout/").status_code == 405
    assert client.post("/accounts/logout/").status_code == 302
    assert AuditEvent.objects.filter(
        action="accounts.session.ended", actor=world.ada, data__reason="logout"
    ).exists()
    assert client.get("/cases/").status_code == 302


def test_a_stale_session_is_ended_by_the_middleware_and_audited(world, client):
    """If an old session survived (e.g. a cache session store), the middleware still ends it."""
    from recoup.accounts.models import User

    _post(client, "ada", PASSWORD)
    User.objects.filter(pk=world.ada.pk).update(current_session_key="some-newer-session")
    response = client.get("/cases/")
    assert response.status_code == 302
    assert AuditEvent.objects.filter(
        action="accounts.session.ended", data__reason="superseded_by_newer_login"
    ).exists()


def test_failed_logins_for_unknown_names_do_not_store_what_was_typed(world, client):
    _post(client, "MySecretPassw0rd", "x")
    event = AuditEvent.objects.filter(action="accounts.login.failed", actor=None).latest("seq")
    assert "MySecretPassw0rd" not in str(event.data)
    assert event.data["username_hint"] == "My***"


def test_the_audit_log_records_the_client_address_behind_a_trusted_proxy(world, client, settings):
    settings.RECOUP_NUM_PROXIES = 1
    client.post(
        "/accounts/login/",
        {"username": "ada", "password": PASSWORD},
        HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.9",
        REMOTE_ADDR="10.0.0.2",
    )
    event = AuditEvent.objects.filter(action="accounts.login.succeeded").latest("seq")
    assert event.ip == "203.0.113.9"


def test_a_forged_forwarded_address_falls_back_to_the_peer(world, client, settings):
    settings.RECOUP_NUM_PROXIES = 1
    client.post(
        "/accounts/login/",
        {"username": "ada", "password": PASSWORD},
        HTTP_X_FORWARDED_FOR="not-an-address",
        REMOTE_ADDR="10.0.0.2",
    )
    event = AuditEvent.objects.filter(action="accounts.login.succeeded").latest("seq")
    assert event.ip == "10.0.0.2"
