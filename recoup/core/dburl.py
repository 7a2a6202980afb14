"""Turn ``RECOUP_DATABASE_URL`` into a Django ``DATABASES`` entry.

Two schemes: ``sqlite:///var/recoup.db`` (relative to the project) or ``sqlite:////srv/recoup.db``
(absolute), and ``postgres://user:password@host:port/name``. SQLite is tuned for many readers
and serialised writers: WAL journal, a busy timeout instead of instant "database is locked",
and IMMEDIATE transactions so a transaction takes the write lock when it starts rather than
failing half-way when it first writes (healthchecks does the same).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

from django.core.exceptions import ImproperlyConfigured

# A bulk load (a 1M-row import, an allocation) grows the write-ahead log to gigabytes (5 GB
# after a 1M-row import), and SQLite keeps the file at its largest size for ever unless told
# otherwise: the log is cut back to this size whenever it starts over.
SQLITE_WAL_KEEP_BYTES = 64 * 1024 * 1024
SQLITE_INIT = (
    "PRAGMA journal_mode=WAL;"
    "PRAGMA synchronous=NORMAL;"
    "PRAGMA busy_timeout=10000;"
    "PRAGMA foreign_keys=ON;"
    f"PRAGMA journal_size_limit={SQLITE_WAL_KEEP_BYTES};"
)


PG_SESSION_OPTIONS = "-c jit=off"
# psycopg prepares a statement only when the code asks (``core.db.fetch_prepared``, the
# gate's hot reads), never on its own. Django's default (None) turns preparing off, which
# would ignore the request too.
PG_PREPARE_THRESHOLD = 2**31 - 1


def sqlite_config(path: Path | str) -> dict[str, Any]:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    return {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": str(path),
        "OPTIONS": {"init_command": SQLITE_INIT, "transaction_mode": "IMMEDIATE", "timeout": 10},
        "TEST": {"NAME": None},
    }


def parse_database_url(url: str, *, base_dir: Path) -> dict[str, Any]:
    parsed = urlparse(url)
    if parsed.scheme == "sqlite":
        raw_path = unquote(parsed.path)
        # sqlite:///var/recoup.db is relative to the project; sqlite:////srv/recoup.db absolute.
        rel = raw_path[1:]
        if not rel:
            raise ImproperlyConfigured("RECOUP_DATABASE_URL: sqlite URL needs a file path")
        path = Path(rel)
        if not path.is_absolute():
            path = base_dir / path
        return sqlite_config(path)
    if parsed.scheme in ("postgres", "postgresql", "pgsql"):
        name = unquote(parsed.path.lstrip("/"))
        if not name:
            raise ImproperlyConfigured("RECOUP_DATABASE_URL: postgres URL needs a database name")
        options: dict[str, Any] = {
            k: v[-1] for k, v in parse_qs(parsed.query, keep_blank_values=True).items()
        }
        # No JIT compilation: it pays off for long analytical queries, but Recoup's are short
        # and JIT fired on a 12 ms queue query whose cost estimate was high, adding 38 ms
        # (bench/gate.py). ``?options=...`` in the URL replaces this.
        options.setdefault("options", PG_SESSION_OPTIONS)
        threshold: Any = options.pop("prepare_threshold", str(PG_PREPARE_THRESHOLD))
        if threshold:
            try:
                threshold = int(threshold)
            except ValueError:
                raise ImproperlyConfigured(
                    "RECOUP_DATABASE_URL: prepare_threshold must be a whole number or empty"
                ) from None
        options["prepare_threshold"] = threshold or None
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": name,
            "USER": unquote(parsed.username or ""),
            "PASSWORD": unquote(parsed.password or ""),
            "HOST": parsed.hostname or "",
            "PORT": str(parsed.port or ""),
            "CONN_MAX_AGE": 60,
            "CONN_HEALTH_CHECKS": True,
            "OPTIONS": options,
        }
    raise ImproperlyConfigured(
        f"RECOUP_DATABASE_URL: unsupported scheme {parsed.scheme!r} (use sqlite:// or postgres://)"
    )
