"""AES-GCM sealing, key rotation and blind indexes."""

import pytest
from django.test import override_settings

from recoup.core import crypto
from recoup.core.crypto import DecryptionError, generate_key, parse_data_keys


def test_a_sealed_value_opens_only_with_its_associated_data():
    blob = crypto.seal(b"13812341234", aad=b"debtor:1")
    assert b"13812341234" not in blob
    assert crypto.unseal(blob, aad=b"debtor:1") == b"13812341234"
    with pytest.raises(DecryptionError):
        crypto.unseal(blob, aad=b"debtor:2")


def test_tampered_bytes_fail_authentication():
    blob = bytearray(crypto.seal(b"secret", aad=b"a"))
    blob[-1] ^= 1
    with pytest.raises(DecryptionError):
        crypto.unseal(bytes(blob), aad=b"a")


def test_old_rows_stay_readable_after_key_rotation():
    old_key, new_key = generate_key(), generate_key()
    with override_settings(
        RECOUP_DATA_KEYS=parse_data_keys(f"old:{old_key}"), RECOUP_DATA_KEY_ID="old"
    ):
        blob = crypto.seal(b"value", aad=b"x")
    keys = parse_data_keys(f"old:{old_key},new:{new_key}")
    with override_settings(RECOUP_DATA_KEYS=keys, RECOUP_DATA_KEY_ID="new"):
        assert crypto.key_id_of(blob) == "old"
        assert crypto.unseal(blob, aad=b"x") == b"value"
        assert crypto.key_id_of(crypto.seal(b"value", aad=b"x")) == "new"
    with (
        override_settings(
            RECOUP_DATA_KEYS=parse_data_keys(f"new:{new_key}"), RECOUP_DATA_KEY_ID="new"
        ),
        pytest.raises(DecryptionError, match="no key"),
    ):
        crypto.unseal(blob, aad=b"x")


def test_blind_indexes_are_keyed_and_separated_by_kind():
    a = crypto.blind_index("phone", "13812341234")
    assert a == crypto.blind_index("phone", "13812341234")
    assert a != crypto.blind_index("id_number", "13812341234")
    with override_settings(RECOUP_BLIND_INDEX_KEY=b"k" * 32):
        assert crypto.blind_index("phone", "13812341234") != a
    assert len(a) == 32


def test_nonces_are_fresh():
    assert crypto.seal(b"same", aad=b"a") != crypto.seal(b"same", aad=b"a")


def test_the_bulk_sealer_matches_the_single_value_functions():
    sealer = crypto.Sealer()
    blob = sealer.seal_json({"name": "张三"}, b"debtor:x")
    assert crypto.unseal_json(blob, aad=b"debtor:x") == {"name": "张三"}
    assert crypto.key_id_of(blob) == crypto.keyring().active_id
    assert sealer.blind("phone", "13812341234") == crypto.blind_index("phone", "13812341234")
    # The keyed state is reused per kind: each value and kind still gets its own digest.
    for kind, value in [("phone", "13900000000"), ("email", "a@b.cn"), ("phone", "13812341234")]:
        assert sealer.blind(kind, value) == crypto.blind_index(kind, value)
    assert sealer.blind("email", "13812341234") != sealer.blind("phone", "13812341234")
