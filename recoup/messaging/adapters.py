"""SMS delivery backends: where an approved, gate-allowed, rendered SMS goes.

``RECOUP_SMS_BACKEND`` picks one (docs/configuration.md):

- ``file`` (default): appends one JSON line per SMS to ``MEDIA_ROOT/outbox/sms-<date>.jsonl``.
  For development and demos; the file holds numbers and texts in clear.
- ``console``: logs that an SMS went out (id, masked number, length; never the text).
  Development only.
- ``http``: POSTs JSON to ``RECOUP_SMS_GATEWAY_URL`` with
  ``X-Recoup-Signature: sha256=<hex HMAC-SHA256 of the body with RECOUP_SMS_GATEWAY_SECRET>``;
  the gateway answers ``{"provider_id": "…"}`` and later reports delivery to
  ``/messaging/sms/callback`` signed the same way (``docs/configuration.md``).

A backend never raises for a refused SMS: it returns ``SendResult(ok=False, error=…)`` and
the service records the failure.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from recoup.core.clock import now
from recoup.core.identity import mask_phone

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Recoup-Signature"
HTTP_TIMEOUT_SECONDS = 10


@dataclass(frozen=True)
class OutgoingSms:
    message_id: str  # our Message.uid: the gateway echoes it in delivery reports
    to: str
    body: str


@dataclass(frozen=True)
class SendResult:
    ok: bool
    provider_id: str = ""
    error: str = ""


class Backend(Protocol):
    name: str

    def send(self, sms: OutgoingSms) -> SendResult: ...


def sign(body: bytes, secret: str) -> str:
    """The signature header value: ``sha256=`` + hex HMAC-SHA256 of the raw body."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def signature_valid(body: bytes, header: str, secret: str) -> bool:
    """Constant-time check of a callback's signature; no secret configured → never valid."""
    if not secret or not header:
        return False
    return hmac.compare_digest(sign(body, secret), header.strip())


class FileBackend:
    name = "file"

    def __init__(self, directory: Path | None = None) -> None:
        self.directory = directory or Path(settings.MEDIA_ROOT) / "outbox"

    def send(self, sms: OutgoingSms) -> SendResult:
        self.directory.mkdir(parents=True, exist_ok=True)
        at = now()
        path = self.directory / f"sms-{at:%Y%m%d}.jsonl"
        line = json.dumps(
            {"id": sms.message_id, "to": sms.to, "body": sms.body, "at": at.isoformat()},
            ensure_ascii=False,
        )
        with path.open("a", encoding="utf-8") as out:
            out.write(line + "\n")
        return SendResult(ok=True, provider_id=f"file:{sms.message_id}")


class ConsoleBackend:
    name = "console"

    def send(self, sms: OutgoingSms) -> SendResult:
        # The text holds the debtor's name and debt: not for logs (the file backend shows it).
        logger.info(
            "SMS %s to %s, %s characters", sms.message_id, mask_phone(sms.to), len(sms.body)
        )
        return SendResult(ok=True, provider_id=f"console:{sms.message_id}")


class HttpGatewayBackend:
    name = "http"

    def __init__(self, url: str, secret: str) -> None:
        if not url.startswith(("https://", "http://")):
            raise ImproperlyConfigured("RECOUP_SMS_GATEWAY_URL must be an http(s) URL")
        if not secret:
            raise ImproperlyConfigured("RECOUP_SMS_GATEWAY_SECRET is required by the http backend")
        self.url, self.secret = url, secret

    def send(self, sms: OutgoingSms) -> SendResult:
        body = json.dumps(
            {"id": sms.message_id, "to": sms.to, "body": sms.body}, ensure_ascii=False
        ).encode()
        request = urllib.request.Request(  # noqa: S310 (scheme checked in __init__)
            self.url,
            data=body,
            method="POST",
            headers={"Content-Type": "application/json", SIGNATURE_HEADER: sign(body, self.secret)},
        )
        try:
            with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT_SECONDS) as response:  # noqa: S310
                answer = json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as exc:
            return SendResult(ok=False, error=f"gateway HTTP {exc.code}")
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            return SendResult(ok=False, error=f"gateway unreachable: {exc}"[:500])
        except ValueError:
            return SendResult(ok=False, error="gateway answered with invalid JSON")
        provider_id = str(answer.get("provider_id") or answer.get("id") or "")
        if not provider_id:
            return SendResult(ok=False, error="gateway answer has no provider_id")
        return SendResult(ok=True, provider_id=provider_id[:100])


def get_backend() -> Backend:
    """The configured backend (read on each call, so tests can override settings)."""
    name = getattr(settings, "RECOUP_SMS_BACKEND", "file") or "file"
    if name == "file":
        return FileBackend()
    if name == "console":
        return ConsoleBackend()
    if name == "http":
        return HttpGatewayBackend(
            getattr(settings, "RECOUP_SMS_GATEWAY_URL", ""),
            getattr(settings, "RECOUP_SMS_GATEWAY_SECRET", ""),
        )
    raise ImproperlyConfigured(f"RECOUP_SMS_BACKEND must be file, console or http, got {name!r}")
