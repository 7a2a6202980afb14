"""Recoup settings: one file, driven by environment variables only.

Every variable read here is documented in docs/configuration.md (a test checks it).
Production (RECOUP_DEBUG off, the default) refuses to start with a missing or placeholder
secret key or data key and names the variable to set.
"""

from __future__ import annotations

from pathlib import Path

from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

from recoup.core.crypto import (
    DEV_PLACEHOLDER_BLIND_KEY,
    DEV_PLACEHOLDER_DATA_KEYS,
    parse_blind_key,
    parse_data_keys,
)
from recoup.core.dburl import parse_database_url
from recoup.core.env import env_bool, env_float, env_int, env_list, env_secret, env_str

BASE_DIR = Path(__file__).resolve().parent.parent

DEBUG = env_bool("RECOUP_DEBUG", False)

DEV_SECRET_PLACEHOLDER = "recoup-development-only-secret-key-change-me"  # noqa: S105 (placeholder)
SECRET_KEY = env_secret("RECOUP_SECRET_KEY", DEV_SECRET_PLACEHOLDER if DEBUG else "")
_raw_data_keys = env_secret("RECOUP_DATA_KEYS", DEV_PLACEHOLDER_DATA_KEYS if DEBUG else "")
_raw_blind_key = env_secret("RECOUP_BLIND_INDEX_KEY", DEV_PLACEHOLDER_BLIND_KEY if DEBUG else "")

if not DEBUG:
    if not SECRET_KEY or SECRET_KEY == DEV_SECRET_PLACEHOLDER or len(SECRET_KEY) < 32:
        raise ImproperlyConfigured(
            "RECOUP_SECRET_KEY is missing, too short (< 32 characters) or the development "
            "placeholder; set it (or RECOUP_SECRET_KEY_FILE) for production"
        )
    _dev_key = DEV_PLACEHOLDER_DATA_KEYS.split(":", 1)[1]
    if not _raw_data_keys or _dev_key in _raw_data_keys:
        raise ImproperlyConfigured(
            "RECOUP_DATA_KEYS is missing or contains the development placeholder key; set it (or "
            "RECOUP_DATA_KEYS_FILE) to <key id>:<base64 32-byte key>[,...] for production"
        )
    if not _raw_blind_key or _raw_blind_key == DEV_PLACEHOLDER_BLIND_KEY:
        raise ImproperlyConfigured(
            "RECOUP_BLIND_INDEX_KEY is missing or the development placeholder; set it (or "
            "RECOUP_BLIND_INDEX_KEY_FILE) to a base64 32-byte key for production"
        )

RECOUP_DATA_KEYS = parse_data_keys(_raw_data_keys)
RECOUP_DATA_KEY_ID = env_str("RECOUP_DATA_KEY_ID", next(iter(RECOUP_DATA_KEYS)))
if RECOUP_DATA_KEY_ID not in RECOUP_DATA_KEYS:
    raise ImproperlyConfigured(
        f"RECOUP_DATA_KEY_ID {RECOUP_DATA_KEY_ID!r} is not one of the ids in RECOUP_DATA_KEYS"
    )
RECOUP_BLIND_INDEX_KEY = parse_blind_key(_raw_blind_key)

ALLOWED_HOSTS = env_list("RECOUP_ALLOWED_HOSTS", ["127.0.0.1", "localhost"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env_list("RECOUP_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "ninja",
    "django_htmx",
    "django_tasks_db",
    "recoup.core",
    "recoup.accounts",
    "recoup.audit",
    "recoup.workdays",
    "recoup.clients",
    "recoup.cases",
    "recoup.compliance",
    "recoup.intake",
    "recoup.allocation",
    "recoup.contact",
    "recoup.messaging",
    "recoup.money",
    "recoup.web",
    "recoup.demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "recoup.audit.context.AuditContextMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "recoup.accounts.middleware.SessionTouchMiddleware",  # after sessions: marks it to save
    "recoup.core.locale.ChosenLanguageMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "recoup.accounts.middleware.SingleSessionMiddleware",  # after messages: it posts one
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.template.context_processors.csp",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "recoup.web.context_processors.navigation",
            ],
        },
    }
]

# Database: SQLite file under var/ by default; RECOUP_DATABASE_URL selects another.
_default_db_url = "sqlite:///var/recoup.sqlite3"
DATABASES = {
    "default": parse_database_url(
        env_str("RECOUP_DATABASE_URL", _default_db_url) or _default_db_url, base_dir=BASE_DIR
    )
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# SQLite: seconds between the background checkpoints of the write-ahead log (recoup.core.
# sqlite_wal); 0 leaves checkpoints to SQLite, inside whichever commit fills the log.
RECOUP_SQLITE_CHECKPOINT_SECONDS = env_float("RECOUP_SQLITE_CHECKPOINT_SECONDS", 1.0)

AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "web:home"
LOGOUT_REDIRECT_URL = "accounts:login"

# Argon2id first (SPEC §7); PBKDF2 stays available to verify hashes made elsewhere.
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 10},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Login lockout and sessions (SPEC §7: personal logins, never shared).
RECOUP_LOCKOUT_THRESHOLD = env_int("RECOUP_LOCKOUT_THRESHOLD", 5)
RECOUP_LOCKOUT_MINUTES = env_int("RECOUP_LOCKOUT_MINUTES", 15)
RECOUP_SESSION_IDLE_MINUTES = env_int("RECOUP_SESSION_IDLE_MINUTES", 30)
SESSION_ENGINE = "django.contrib.sessions.backends.db"  # shared by every web process
SESSION_COOKIE_AGE = RECOUP_SESSION_IDLE_MINUTES * 60
# The expiry then measures idle time: SessionTouchMiddleware saves a used session when its
# last save is RECOUP_SESSION_TOUCH_SECONDS old (not on every request: a write and a commit).
SESSION_SAVE_EVERY_REQUEST = False
RECOUP_SESSION_TOUCH_SECONDS = env_int("RECOUP_SESSION_TOUCH_SECONDS", 60)
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
# Trusted reverse proxies in front of Recoup: the audit log takes the client address from
# X-Forwarded-For only as far back as these proxies appended it.
RECOUP_NUM_PROXIES = env_int("RECOUP_NUM_PROXIES", 0)
SECURE_PROXY_SSL_HEADER = (
    ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("RECOUP_BEHIND_TLS_PROXY", False) else None
)

# Content-Security-Policy (Django 6): no inline script or style, assets served from self.
SECURE_CSP = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'"],
    "img-src": ["'self'", "data:"],
    "font-src": ["'self'", "data:"],
    "connect-src": ["'self'"],
    "frame-ancestors": ["'none'"],
    "form-action": ["'self'"],
    "base-uri": ["'self'"],
}

# Internationalisation: Simplified Chinese by default, English available.
LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", _("简体中文")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
FORMAT_MODULE_PATH = ["config.formats"]
USE_TZ = True
TIME_ZONE = env_str("RECOUP_TIME_ZONE", "Asia/Shanghai")

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env_str("RECOUP_STATIC_ROOT", str(BASE_DIR / "var" / "static")))
MEDIA_ROOT = Path(env_str("RECOUP_MEDIA_ROOT", str(BASE_DIR / "var" / "media")))

# Background work: Django's tasks framework with the database backend (django-tasks-db);
# run workers with `manage.py db_worker`.
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}

# Intake limits (a bank file larger than this, or with more rows, is refused with a message).
RECOUP_IMPORT_MAX_BYTES = env_int("RECOUP_IMPORT_MAX_MB", 1024) * (1 << 20)
RECOUP_IMPORT_MAX_ROWS = env_int("RECOUP_IMPORT_MAX_ROWS", 2_000_000)
# Processes that stage one large bank file (recoup.intake.parallel): 2 uses a second core for
# files of 100,000 rows or more; 1 stages every file in the worker's own process.
RECOUP_IMPORT_PROCESSES = env_int("RECOUP_IMPORT_PROCESSES", 2)
# How long an allowed contact (a gate grant) holds its slot of the caps if its outcome is
# never reported (a dialer that crashed mid-call): seconds.
RECOUP_GATE_GRANT_SECONDS = env_int("RECOUP_GATE_GRANT_SECONDS", 180)
# How long an unreported call keeps its slot after its grant expired (a long call is reported
# when it ends): minutes.
RECOUP_GATE_CALL_HOLD_MINUTES = env_int("RECOUP_GATE_CALL_HOLD_MINUTES", 60)
# SMS delivery (recoup.messaging.adapters): "file" (JSON lines under MEDIA_ROOT/outbox/),
# "console" (the log) or "http" (a gateway: POSTs signed JSON, signed delivery callbacks).
RECOUP_SMS_BACKEND = env_str("RECOUP_SMS_BACKEND", "file")
RECOUP_SMS_GATEWAY_URL = env_str("RECOUP_SMS_GATEWAY_URL", "")
RECOUP_SMS_GATEWAY_SECRET = env_secret("RECOUP_SMS_GATEWAY_SECRET", "")
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * (1 << 20)  # form fields; files stream to disk

MONEY_MAX_DIGITS = 16
MONEY_DECIMAL_PLACES = 2
DEFAULT_CURRENCY = "CNY"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("RECOUP_LOG_LEVEL", "INFO")},
}
