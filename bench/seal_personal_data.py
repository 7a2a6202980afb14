"""Sealing a debtor's personal data with Recoup's builders against the raw-crypto floor.

Per row, both sides do the same cryptographic work:
  debtor  one AES-GCM record {name, id_number, employer, employer_address} + 2 keyed BLAKE2b
          blind indexes (ID number, name)
  mobile  one AES-GCM record {value, name} + 1 keyed BLAKE2b blind index (phone)

Recoup:  ``debtor_build`` + ``contact_point_build(kind="phone")`` (unsaved model instances).
Floor:   JSON of the same records (one reused ``JSONEncoder``), ``os.urandom`` nonces,
         cryptography ``AESGCM`` and ``hashlib.blake2b`` in a tight loop, results kept as
         tuples (PERF.md: ~1.9 µs per AES-GCM record, ~0.9 µs per keyed BLAKE2b).
         A crypto-only variant (plaintexts already serialised) is printed too.

Synthetic inputs (PersonFactory) are generated before any timing. Objects are kept per chunk
of 5,000 rows (as a batch loader would hold them) and then dropped; the garbage collector is
left on for both sides. Each side runs ``--repeat`` times (alternating); medians are reported.

    .venv/bin/python bench/seal_personal_data.py --rows 200000
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.chdir(ROOT)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("RECOUP_DEBUG", "1")
os.environ.setdefault("RECOUP_DATABASE_URL", "sqlite:///var/bench/seal_personal_data.sqlite3")

import django  # noqa: E402

django.setup()

from cryptography.hazmat.primitives.ciphers.aead import AESGCM  # noqa: E402

from recoup.cases.models import ContactPoint, Debtor  # noqa: E402
from recoup.cases.services import DebtorInput, contact_point_build, debtor_build  # noqa: E402
from recoup.core import crypto  # noqa: E402
from recoup.core.identity import (  # noqa: E402
    normalise_id_number,
    normalise_name,
    normalise_phone,
)
from recoup.demo.synthetic import PersonFactory  # noqa: E402

CHUNK = 5000


def make_inputs(rows: int) -> list[tuple[DebtorInput, str]]:
    people = PersonFactory(2026)
    out = []
    for _ in range(rows):
        p = people.person()
        out.append(
            (
                DebtorInput(
                    name=p.name,
                    id_number=p.id_number,
                    employer=p.employer,
                    employer_address=p.employer_address,
                    province=p.province,
                    city=p.city,
                ),
                p.mobile,
            )
        )
    return out


def run_recoup(inputs: list[tuple[DebtorInput, str]]) -> float:
    t0 = time.perf_counter()
    for start in range(0, len(inputs), CHUNK):
        kept = []
        for data, mobile in inputs[start : start + CHUNK]:
            debtor = debtor_build(organisation_id=1, data=data)
            cp = contact_point_build(debtor=debtor, kind="phone", value=mobile, label="手机")
            kept.append((debtor, cp))
        del kept
    return time.perf_counter() - t0


def run_floor(inputs: list[tuple[DebtorInput, str]]) -> float:
    ring = crypto.keyring()
    aes = AESGCM(ring.keys[ring.active_id])
    blind = ring.blind_key
    kid = ring.active_id.encode()
    prefix = bytes([len(kid)]) + kid
    enc, rnd, b2b = aes.encrypt, os.urandom, hashlib.blake2b
    # One encoder for the whole loop: json.dumps(..., separators=...) builds a new one per call.
    dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    t0 = time.perf_counter()
    row = 0
    for start in range(0, len(inputs), CHUNK):
        kept = []
        for data, mobile in inputs[start : start + CHUNK]:
            row += 1
            record = {
                "name": data.name,
                "id_number": data.id_number,
                "employer": data.employer,
                "employer_address": data.employer_address,
            }
            plain = dumps(record).encode()
            aad = b"debtor:%d" % row
            nonce = rnd(12)
            sealed = prefix + nonce + enc(nonce, plain, aad)
            id_bidx = b2b(
                data.id_number.encode(), key=blind, digest_size=16, person=b"id_number"
            ).hexdigest()
            name_bidx = b2b(
                data.name.encode(), key=blind, digest_size=16, person=b"name"
            ).hexdigest()
            cplain = dumps({"value": mobile, "name": ""}).encode()
            caad = b"contact:%d" % row
            cnonce = rnd(12)
            csealed = prefix + cnonce + enc(cnonce, cplain, caad)
            phone_bidx = b2b(
                mobile.encode(), key=blind, digest_size=16, person=b"phone"
            ).hexdigest()
            kept.append((sealed, id_bidx, name_bidx, csealed, phone_bidx))
        del kept
    return time.perf_counter() - t0


def run_crypto_only(prepared: list[tuple[bytes, bytes, bytes, bytes, bytes]]) -> float:
    ring = crypto.keyring()
    aes = AESGCM(ring.keys[ring.active_id])
    blind = ring.blind_key
    enc, rnd, b2b = aes.encrypt, os.urandom, hashlib.blake2b
    t0 = time.perf_counter()
    for start in range(0, len(prepared), CHUNK):
        kept = []
        for plain, idn, name, cplain, mobile in prepared[start : start + CHUNK]:
            nonce = rnd(12)
            sealed = nonce + enc(nonce, plain, b"debtor")
            a = b2b(idn, key=blind, digest_size=16, person=b"id_number").hexdigest()
            b = b2b(name, key=blind, digest_size=16, person=b"name").hexdigest()
            cnonce = rnd(12)
            csealed = cnonce + enc(cnonce, cplain, b"contact")
            c = b2b(mobile, key=blind, digest_size=16, person=b"phone").hexdigest()
            kept.append((sealed, a, b, csealed, c))
        del kept
    return time.perf_counter() - t0


def breakdown(inputs: list[tuple[DebtorInput, str]], n: int = 20_000) -> list[tuple[str, float]]:
    """Median µs of the pieces the two builders call, each timed alone on the same inputs."""
    sample = [inputs[i % len(inputs)] for i in range(n)]
    d0 = sample[0][0]
    debtor0 = debtor_build(organisation_id=1, data=d0)
    rec = {"name": d0.name, "id_number": d0.id_number, "employer": d0.employer}
    rec["employer_address"] = d0.employer_address
    pieces = {
        "debtor_build (whole)": lambda d, m: debtor_build(organisation_id=1, data=d),
        "contact_point_build (whole)": lambda d, m: contact_point_build(
            debtor=debtor0, kind="phone", value=m, label="手机"
        ),
        "  Debtor(...) model instance": lambda d, m: Debtor(
            organisation_id=1, province=d.province, city=d.city
        ),
        "  ContactPoint(...) model instance": lambda d, m: ContactPoint(
            organisation_id=1, debtor=debtor0, kind="phone", role="debtor", label="手机"
        ),
        "  normalise_id_number": lambda d, m: normalise_id_number(d.id_number),
        "  normalise_phone (called twice)": lambda d, m: normalise_phone(m),
        "  crypto.seal_json(debtor record)": lambda d, m: crypto.seal_json(rec, aad=b"debtor:1"),
        "  crypto.blind_index (x3)": lambda d, m: crypto.blind_index("name", d.name),
        "  crypto.keyring() (x6)": lambda d, m: crypto.keyring(),
    }
    out = []
    for label, fn in pieces.items():
        runs = []
        for _ in range(3):
            t0 = time.perf_counter()
            for d, m in sample:
                fn(d, m)
            runs.append((time.perf_counter() - t0) / n * 1e6)
        out.append((label, statistics.median(runs)))
    return out


def check_same_work(inputs: list[tuple[DebtorInput, str]]) -> None:
    """The floor's blind indexes equal Recoup's: same keys, same personalisation, same input."""
    data, mobile = inputs[0]
    debtor = debtor_build(organisation_id=1, data=data)
    cp = contact_point_build(debtor=debtor, kind="phone", value=mobile)
    blind = crypto.keyring().blind_key
    assert normalise_id_number(data.id_number) == data.id_number
    assert normalise_name(data.name) == data.name
    for value, person, expected in (
        (data.id_number, b"id_number", debtor.id_number_bidx),
        (data.name, b"name", debtor.name_bidx),
        (mobile, b"phone", cp.value_bidx),
    ):
        got = hashlib.blake2b(value.encode(), key=blind, digest_size=16, person=person)
        assert got.hexdigest() == expected, person


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    t0 = time.perf_counter()
    inputs = make_inputs(args.rows)
    gen_s = time.perf_counter() - t0
    prepared = [
        (
            json.dumps(
                {
                    "name": d.name,
                    "id_number": d.id_number,
                    "employer": d.employer,
                    "employer_address": d.employer_address,
                },
                ensure_ascii=False,
                separators=(",", ":"),
            ).encode(),
            d.id_number.encode(),
            d.name.encode(),
            json.dumps({"value": m, "name": ""}).encode(),
            m.encode(),
        )
        for d, m in inputs
    ]
    check_same_work(inputs)
    print(f"inputs: {args.rows} synthetic people in {gen_s:.1f} s (not timed)")

    recoup_s, floor_s, crypto_s = [], [], []
    for i in range(args.repeat):
        gc.collect()
        recoup_s.append(run_recoup(inputs))
        gc.collect()
        floor_s.append(run_floor(inputs))
        gc.collect()
        crypto_s.append(run_crypto_only(prepared))
        print(
            f"run {i + 1}: recoup {recoup_s[-1]:.2f} s  floor {floor_s[-1]:.2f} s  "
            f"crypto-only {crypto_s[-1]:.2f} s"
        )

    def per_row(samples: list[float]) -> float:
        return statistics.median(samples) / args.rows * 1e6

    us, floor_us, crypto_us = per_row(recoup_s), per_row(floor_s), per_row(crypto_s)
    print()
    print(f"{'path':<44}{'µs/row':>10}{'s/1M rows':>12}")
    print(f"{'Recoup debtor_build + contact_point_build':<44}{us:>10.2f}{us:>12.1f}")
    print(f"{'floor: json + AESGCM + blake2b':<44}{floor_us:>10.2f}{floor_us:>12.1f}")
    print(f"{'crypto only (plaintexts pre-serialised)':<44}{crypto_us:>10.2f}{crypto_us:>12.1f}")
    print()
    print("where Recoup's time goes (each piece timed alone, µs per call):")
    for label, value in breakdown(inputs):
        print(f"  {label:<42}{value:>8.2f}")
    print(
        f"RESULT seal_personal_data rows={args.rows} us_per_row={us:.2f} "
        f"floor_us_per_row={floor_us:.2f} floor_ratio={us / floor_us:.2f} "
        f"crypto_only_us_per_row={crypto_us:.2f}"
    )


if __name__ == "__main__":
    main()
