"""Encryption of personal data at rest (AES-256-GCM) and blind indexes for exact lookup.

Design (docs/adr/0005-encryption-of-personal-data.md):
- A row's personal data is sealed as one AES-GCM record: ``kid-length | kid | nonce | ciphertext``.
  The key id travels inside the blob (and in a column of the owning row) so keys can be
  rotated: new writes use the active key, old rows stay readable while their key is listed.
- The associated data binds a ciphertext to its row (``b"debtor:<uuid>"``): a blob copied
  onto another row fails to open instead of silently showing someone else's data.
- Blind indexes are keyed BLAKE2b digests (16 bytes, hex) of a normalised value, with the
  field kind as personalisation, so an ID number and a phone with the same digits never
  collide and equality search works without decrypting (PERF.md: 0.9 µs per field).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from dataclasses import dataclass
from functools import cache
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

NONCE_BYTES = 12
KEY_BYTES = 32

# Development-only keys: usable when RECOUP_DEBUG is on, refused in production (settings check).
DEV_PLACEHOLDER_DATA_KEYS = "dev:" + base64.b64encode(b"recoup-development-only-data-key").decode()
DEV_PLACEHOLDER_BLIND_KEY = base64.b64encode(b"recoup-development-only-blindkey").decode()


class DecryptionError(Exception):
    """A sealed value could not be opened: unknown key id, wrong row, or tampered bytes."""


@dataclass(frozen=True)
class KeyRing:
    keys: dict[str, bytes]
    active_id: str
    blind_key: bytes


def _decode_key(name: str, kid: str, b64: str) -> bytes:
    try:
        raw = base64.b64decode(b64, validate=True)
    except ValueError:
        raise ImproperlyConfigured(f"{name}: key {kid!r} is not valid base64") from None
    if len(raw) != KEY_BYTES:
        raise ImproperlyConfigured(f"{name}: key {kid!r} must be {KEY_BYTES} bytes, got {len(raw)}")
    return raw


def parse_data_keys(raw: str) -> dict[str, bytes]:
    """Parse ``RECOUP_DATA_KEYS`` = ``kid1:base64key,kid2:base64key``."""
    keys: dict[str, bytes] = {}
    for item in (part.strip() for part in raw.split(",")):
        if not item:
            continue
        kid, sep, b64 = item.partition(":")
        if not sep or not kid or len(kid) > 32 or not kid.isascii():
            raise ImproperlyConfigured(
                "RECOUP_DATA_KEYS: each entry must be <key id>:<base64 32-byte key>"
            )
        keys[kid] = _decode_key("RECOUP_DATA_KEYS", kid, b64)
    if not keys:
        raise ImproperlyConfigured("RECOUP_DATA_KEYS is empty: no data-encryption key")
    return keys


def parse_blind_key(raw: str) -> bytes:
    if not raw:
        raise ImproperlyConfigured("RECOUP_BLIND_INDEX_KEY is empty")
    return _decode_key("RECOUP_BLIND_INDEX_KEY", "blind", raw)


def generate_key() -> str:
    return base64.b64encode(os.urandom(KEY_BYTES)).decode()


_last: list[tuple[object, object, object, KeyRing]] = []


def keyring() -> KeyRing:
    """The configured keys; rebuilt only when the settings objects change (tests override)."""
    keys: dict[str, bytes] = settings.RECOUP_DATA_KEYS
    active: str = settings.RECOUP_DATA_KEY_ID
    blind: bytes = settings.RECOUP_BLIND_INDEX_KEY
    if _last and _last[0][0] is keys and _last[0][1] == active and _last[0][2] is blind:
        return _last[0][3]
    if active not in keys:
        raise ImproperlyConfigured(f"RECOUP_DATA_KEY_ID {active!r} is not in RECOUP_DATA_KEYS")
    ring = KeyRing(keys=dict(keys), active_id=active, blind_key=blind)
    _last[:] = [(keys, active, blind, ring)]
    return ring


@cache
def _aesgcm(key: bytes) -> AESGCM:
    return AESGCM(key)


def seal(plaintext: bytes, *, aad: bytes) -> bytes:
    ring = keyring()
    kid = ring.active_id.encode()
    nonce = os.urandom(NONCE_BYTES)
    ct = _aesgcm(ring.keys[ring.active_id]).encrypt(nonce, plaintext, aad)
    return bytes([len(kid)]) + kid + nonce + ct


def key_id_of(blob: bytes) -> str:
    return bytes(blob[1 : 1 + blob[0]]).decode()


def unseal(blob: bytes, *, aad: bytes) -> bytes:
    blob = bytes(blob)
    if len(blob) < 2 + NONCE_BYTES:
        raise DecryptionError("sealed value too short")
    kid = key_id_of(blob)
    key = keyring().keys.get(kid)
    if key is None:
        raise DecryptionError(f"no key with id {kid!r} configured")
    start = 1 + blob[0]
    nonce, ct = blob[start : start + NONCE_BYTES], blob[start + NONCE_BYTES :]
    try:
        return _aesgcm(key).decrypt(nonce, ct, aad)
    except Exception as exc:  # cryptography raises InvalidTag; never leak details
        raise DecryptionError("sealed value failed authentication") from exc


_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def seal_json(data: dict[str, Any], *, aad: bytes) -> bytes:
    return seal(_JSON.encode(data).encode(), aad=aad)


def unseal_json(blob: bytes, *, aad: bytes) -> dict[str, Any]:
    value = json.loads(unseal(blob, aad=aad))
    assert isinstance(value, dict)
    return value


def blind_index(kind: str, normalised: str) -> str:
    """Keyed BLAKE2b of an already-normalised value; ``kind`` separates the index spaces."""
    digest = hashlib.blake2b(
        normalised.encode(),
        key=keyring().blind_key,
        digest_size=16,
        person=kind.encode()[:16],
    )
    return digest.hexdigest()


class Sealer:
    """Sealing and blind-indexing for bulk loads: the key ring is looked up once, not per row.

    Produces exactly what ``seal``/``seal_json``/``blind_index`` produce (same format, same
    keys), so rows loaded in bulk read back through the models like any other.
    """

    def __init__(self) -> None:
        ring = keyring()
        self.key_id = ring.active_id
        kid = ring.active_id.encode()
        # Public for hot loops that bring their own nonce: a blob is
        # ``prefix + nonce + encrypt(nonce, plaintext, aad)``.
        self.prefix = bytes([len(kid)]) + kid
        self._aead = _aesgcm(ring.keys[ring.active_id])
        self.encrypt = self._aead.encrypt
        self._blind_key = ring.blind_key
        self._urandom = os.urandom
        # One keyed hash state per kind, copied for each value: keying BLAKE2b hashes a
        # whole block, and a copy of the keyed state costs less (0.84 → 0.52 µs a value).
        self._keyed: dict[str, Any] = {}

    def seal(self, plaintext: bytes, aad: bytes) -> bytes:
        nonce = self._urandom(NONCE_BYTES)
        return self.prefix + nonce + self._aead.encrypt(nonce, plaintext, aad)

    def seal_json(self, data: dict[str, Any], aad: bytes) -> bytes:
        return self.seal(_JSON.encode(data).encode(), aad)

    def blind(self, kind: str, normalised: str) -> str:
        keyed = self._keyed.get(kind)
        if keyed is None:
            keyed = self._keyed[kind] = hashlib.blake2b(
                key=self._blind_key, digest_size=16, person=kind.encode()[:16]
            )
        digest = keyed.copy()
        digest.update(normalised.encode())
        return str(digest.hexdigest())
