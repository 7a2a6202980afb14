"""Configuration comes from the environment; production refuses missing or placeholder keys."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from recoup.core.crypto import generate_key

ROOT = Path(__file__).resolve().parents[3]
GOOD = {
    "RECOUP_SECRET_KEY": "x" * 50,
    "RECOUP_DATA_KEYS": f"k2026:{generate_key()}",
    "RECOUP_BLIND_INDEX_KEY": generate_key(),
    "RECOUP_DATABASE_URL": "sqlite:///var/settings-check.sqlite3",
}


def _start(env_overrides: dict[str, str | None]) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RECOUP_")}
    env["DJANGO_SETTINGS_MODULE"] = "config.settings"
    for key, value in {**GOOD, **env_overrides}.items():
        if value is not None:
            env[key] = value
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); print('started')"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_production_starts_with_real_keys():
    result = _start({})
    assert result.returncode == 0, result.stderr
    assert "started" in result.stdout


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("RECOUP_SECRET_KEY", None),
        ("RECOUP_SECRET_KEY", "recoup-development-only-secret-key-change-me"),
        ("RECOUP_DATA_KEYS", None),
        ("RECOUP_BLIND_INDEX_KEY", None),
    ],
)
def test_production_refuses_a_missing_or_placeholder_key_naming_it(variable, value):
    result = _start({variable: value})
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert variable in result.stderr


def test_a_key_list_containing_the_development_key_is_refused():
    from recoup.core.crypto import DEV_PLACEHOLDER_DATA_KEYS

    dev = DEV_PLACEHOLDER_DATA_KEYS.split(":", 1)[1]
    result = _start({"RECOUP_DATA_KEYS": f"k1:{generate_key()},old:{dev}"})
    assert result.returncode != 0
    assert "RECOUP_DATA_KEYS" in result.stderr


def test_a_malformed_data_key_is_named():
    result = _start({"RECOUP_DATA_KEYS": "k1:not-base64!!"})
    assert result.returncode != 0
    assert "RECOUP_DATA_KEYS" in result.stderr


def test_an_unknown_active_key_id_is_named():
    result = _start({"RECOUP_DATA_KEY_ID": "nope"})
    assert result.returncode != 0
    assert "RECOUP_DATA_KEY_ID" in result.stderr


def test_a_bad_boolean_is_named():
    result = _start({"RECOUP_DEBUG": "maybe"})
    assert result.returncode != 0
    assert "RECOUP_DEBUG" in result.stderr


def test_a_bad_database_url_is_named():
    result = _start({"RECOUP_DATABASE_URL": "mysql://x/y"})
    assert result.returncode != 0
    assert "RECOUP_DATABASE_URL" in result.stderr


def test_secrets_can_come_from_files(tmp_path):
    secret = tmp_path / "secret"
    secret.write_text("s" * 40)
    result = _start({"RECOUP_SECRET_KEY": None, "RECOUP_SECRET_KEY_FILE": str(secret)})
    assert result.returncode == 0, result.stderr


def test_sqlite_is_tuned_for_concurrency():
    from django.conf import settings

    db = settings.DATABASES["default"]
    if db["ENGINE"].endswith("sqlite3"):
        assert db["OPTIONS"]["transaction_mode"] == "IMMEDIATE"
        assert "journal_mode=WAL" in db["OPTIONS"]["init_command"]
        assert "busy_timeout" in db["OPTIONS"]["init_command"]


def test_time_zone_defaults_to_shanghai():
    from django.conf import settings

    assert os.environ.get("RECOUP_TIME_ZONE", "Asia/Shanghai") == settings.TIME_ZONE
