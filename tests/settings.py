"""Test settings: the real settings with development keys, a fast hasher and temp media."""

import os
import tempfile

os.environ.setdefault("RECOUP_DEBUG", "1")
# Tests never use the developer's database file: SQLite in memory unless a URL is given.
os.environ.setdefault("RECOUP_DATABASE_URL", "sqlite:///var/test-recoup.sqlite3")

from config.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # speed only; prod is Argon2
MEDIA_ROOT = tempfile.mkdtemp(prefix="recoup-test-media-")
TASKS = {"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}}
DEBUG = False
