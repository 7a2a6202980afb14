"""Canonical form and keyed hash of an audit event (shared by writing and verifying).

The hash is an HMAC-SHA256 under a key derived from RECOUP_BLIND_INDEX_KEY (a permanent
key, kept outside the database): someone who can write the audit tables but does not hold
the key cannot recompute a consistent chain after editing it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder


def normalise_data(data: dict[str, Any]) -> dict[str, Any]:
    """The JSON the database will return: what we hash is what we can re-read."""
    value = json.loads(json.dumps(data, cls=DjangoJSONEncoder))
    assert isinstance(value, dict)
    return value


def event_hash(
    *,
    prev_hash: str,
    chain_key: int,
    seq: int,
    occurred_at: datetime,
    actor_id: int | None,
    actor_kind: str,
    actor_label: str,
    action: str,
    case_id: int | None,
    debtor_id: int | None,
    object_type: str,
    object_id: str,
    data: dict[str, Any],
    ip: str | None,
    request_id: str,
) -> str:
    canonical = json.dumps(
        [
            chain_key,
            seq,
            occurred_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            actor_id,
            actor_kind,
            actor_label,
            action,
            case_id,
            debtor_id,
            object_type,
            object_id,
            data,
            ip,
            request_id,
        ],
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hmac.new(_chain_key(), (prev_hash + canonical).encode(), hashlib.sha256).hexdigest()


def _chain_key() -> bytes:
    from django.conf import settings

    base: bytes = settings.RECOUP_BLIND_INDEX_KEY
    return hashlib.blake2b(b"recoup-audit-chain-v1", key=base, digest_size=32).digest()
