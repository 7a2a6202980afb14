"""ID-card numbers (GB 11643), phone normalisation and masking."""

import pytest

from recoup.core.identity import (
    IdentifierError,
    id_check_char,
    mask_address,
    mask_id_number,
    mask_name,
    mask_phone,
    normalise_id_number,
    normalise_phone,
)


def test_it_accepts_a_valid_18_digit_number():
    # GB 11643 worked example: 11010519491231002X
    assert normalise_id_number("11010519491231002x") == "11010519491231002X"


def test_it_rejects_a_wrong_check_digit():
    with pytest.raises(IdentifierError, match="校验位"):
        normalise_id_number("110105194912310021")


def test_it_converts_a_15_digit_legacy_number():
    assert normalise_id_number("110105491231002") == "11010519491231002" + id_check_char(
        "11010519491231002"
    )


def test_it_rejects_garbage():
    with pytest.raises(IdentifierError):
        normalise_id_number("12345")


def test_full_width_digits_are_normalised():
    assert normalise_id_number("１１０１０５１９４９１２３１００２Ｘ") == "11010519491231002X"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("+86 138-1234-1234", "13812341234"),
        ("008613812341234", "13812341234"),
        ("010-8888 6666", "01088886666"),
    ],
)
def test_phone_numbers_are_normalised(raw, expected):
    assert normalise_phone(raw) == expected


def test_a_too_short_phone_is_refused():
    with pytest.raises(IdentifierError):
        normalise_phone("12-34")


def test_masks():
    assert mask_phone("13812341234") == "138****1234"
    assert mask_id_number("11010519491231002X") == "1101**********002X"
    assert mask_name("张三丰") == "张**"
    assert mask_address("北京市朝阳区建国路88号").startswith("北京市朝阳区")
    assert "88号" not in mask_address("北京市朝阳区建国路88号")
