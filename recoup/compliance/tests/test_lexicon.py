"""Scanning text against the forbidden-word lexicon (COMPLIANCE.md §E).

Every organisation starts with the default lexicon of ``data/defaults.json``; the words are
data, so these tests use the defaults and add their own terms where they need one.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recoup.compliance.lexicon import Hit, scan
from recoup.compliance.models import LexiconCategory, LexiconTerm

pytestmark = pytest.mark.django_db


def codes(hits: list[Hit]) -> set[str]:
    return {h.category for h in hits}


def terms(hits: list[Hit]) -> set[str]:
    return {h.term for h in hits}


def add_term(org_id: int, code: str, term: str, *, pattern: bool = False) -> LexiconTerm:
    category = LexiconCategory.objects.get(organisation_id=org_id, code=code)
    return LexiconTerm.objects.create(
        organisation_id=org_id, category=category, term=term, is_pattern=pattern
    )


def test_a_plain_term_is_found_with_its_category_and_tier(world):
    hits = scan(world.org.pk, "你这个老赖，赶紧还钱")
    assert [h.as_dict() for h in hits] == [
        {"category": "insult", "name": "辱骂、侮辱", "tier": "red_line", "term": "老赖"}
    ]


def test_clean_text_and_empty_text_have_no_hits(world):
    assert scan(world.org.pk, "您好，请按时通过官方渠道还款。") == []
    assert scan(world.org.pk, "") == []
    assert scan(world.org.pk, " \n\t　") == []


@pytest.mark.parametrize(
    "text",
    [
        "找 人 上 门 收 拾 你",  # ASCII spaces between every character
        "找人上门\n收拾你",  # a line break
        "找人　上门　收拾你",  # ideographic (full-width) spaces
        "找\t人上门收拾你",
        "再不还就找人上门收拾你！",
    ],
)
def test_spaced_text_still_matches(world, text):
    assert codes(scan(world.org.pk, text)) == {"violence"}


@pytest.mark.parametrize(
    "text",
    [
        "他欠５０００元没还",  # full-width digits
        "他欠了 5,000.50 元",
        "他欠５，０００元",  # full-width comma
        "他欠　３０００　元",  # ideographic spaces around the amount
    ],
)
def test_amount_patterns_match_through_full_width_and_spaces(world, text):
    hits = scan(world.org.pk, text, third_party=True)
    assert "third_party_debt" in codes(hits)
    assert any(h.term.startswith("欠") and "\\d" in h.term for h in hits)


def test_overdue_days_pattern_and_word_both_hit(world):
    hits = scan(world.org.pk, "他已经逾期　３０　天了", third_party=True)
    assert codes(hits) == {"third_party_debt"}
    assert terms(hits) == {"逾期", "逾期\\s*\\d+\\s*天"}


def test_third_party_only_categories_count_only_for_third_parties(world):
    text = "请转告他欠款5000元，逾期30天了，这个老赖"
    for_debtor = scan(world.org.pk, text)
    assert codes(for_debtor) == {"insult"}
    for_third_party = scan(world.org.pk, text, third_party=True)
    assert codes(for_third_party) == {"insult", "third_party_debt"}
    assert {"欠款", "逾期"} <= terms(for_third_party)


def test_a_term_is_reported_once_however_often_it_occurs(world):
    hits = scan(world.org.pk, "老赖老赖，老 赖")
    assert len(hits) == 1


def test_full_width_letters_in_the_text_match_a_latin_term(world):
    add_term(world.org.pk, "illegal_payment", "QR码")
    add_term(world.org.pk, "illegal_payment", "vx\\s*\\d{5,}", pattern=True)
    assert terms(scan(world.org.pk, "扫一下这个ＱＲ码")) == {"QR码"}
    assert terms(scan(world.org.pk, "加我 VX 123456")) == {"vx\\s*\\d{5,}"}


def test_a_pattern_written_in_capitals_matches_any_case(world):
    # The scanned text is lower-cased; a pattern the officer wrote in capitals must still hit.
    add_term(world.org.pk, "illegal_payment", "QR\\s*码", pattern=True)
    assert codes(scan(world.org.pk, "扫这个qr码还款")) == {"illegal_payment"}
    assert codes(scan(world.org.pk, "扫这个 ＱＲ 码还款")) == {"illegal_payment"}


def test_an_inactive_category_is_not_scanned(world):
    LexiconCategory.objects.filter(organisation_id=world.org.pk, code="insult").update(active=False)
    assert scan(world.org.pk, "老赖") == []


def test_another_organisation_s_words_do_not_apply(world):
    add_term(world.rival.pk, "insult", "笨蛋")
    assert scan(world.org.pk, "笨蛋") == []
    assert codes(scan(world.rival.pk, "笨蛋")) == {"insult"}


def test_a_broken_pattern_in_the_data_is_skipped_not_fatal(world):
    LexiconTerm.objects.create(
        organisation_id=world.org.pk,
        category=LexiconCategory.objects.get(organisation_id=world.org.pk, code="insult"),
        term="(unclosed",
        is_pattern=True,
    )
    assert codes(scan(world.org.pk, "(unclosed 老赖")) == {"insult"}


def test_a_regex_term_is_not_read_as_a_literal_and_a_literal_not_as_a_regex(world):
    add_term(world.org.pk, "insult", "a.c")  # literal: the dot is a dot
    assert scan(world.org.pk, "abc") == []
    assert codes(scan(world.org.pk, "a.c")) == {"insult"}


# --- a property: spacing and full-width forms never hide a default word ---------------------

DEFAULT_WORDS = [
    "找人上门收拾你",
    "我是法院的",
    "通知你单位",
    "老赖",
    "转到我个人账户",
    "不还就坐牢",
    "征信黑名单一辈子",
]
SPACES = st.sampled_from([" ", "  ", "\t", "\n", "　", "\u3000\u3000", ""])
FILLER = st.text(alphabet="您好请按时还款官方渠道。，！ 0123456789", max_size=12)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(word=st.sampled_from(DEFAULT_WORDS), data=st.data())
def test_no_spacing_hides_a_default_word(world, word, data):
    before, after = data.draw(FILLER), data.draw(FILLER)
    gaps = [data.draw(SPACES) for _ in word]
    spaced = "".join(ch + gap for ch, gap in zip(word, gaps, strict=True))
    assert word in terms(scan(world.org.pk, before + spaced + after))


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(amount=st.integers(1, 10**7), full_width=st.booleans(), gap=SPACES)
def test_any_amount_in_any_digits_is_a_third_party_hit(world, amount, full_width, gap):
    digits = str(amount)
    if full_width:
        digits = digits.translate({ord(d): ord(d) + 0xFEE0 for d in "0123456789"})
    text = f"他欠{gap}{digits}{gap}元"
    hits = scan(world.org.pk, text, third_party=True)
    assert "third_party_debt" in codes(hits)
    assert scan(world.org.pk, text) == []


def test_zero_width_characters_do_not_hide_a_word(world):
    from recoup.compliance.lexicon import scan

    hits = scan(world.org.pk, "不还就\u200b坐\u200d牢")
    assert [h.category for h in hits] == ["misleading_legal"]


def test_a_pattern_with_a_space_matches_spaced_text(world):
    from recoup.compliance.lexicon import scan
    from recoup.compliance.models import LexiconCategory, LexiconTerm

    category = LexiconCategory.objects.get(organisation=world.org, code="insult")
    LexiconTerm.objects.create(
        organisation=world.org, category=category, term=r"pay up now", is_pattern=True
    )
    assert [h.term for h in scan(world.org.pk, "You  PAY up now!")] == ["pay up now"]


def test_a_removed_parameter_is_ignored_when_stacking():
    from recoup.compliance.params import stack

    assert stack([{"window_start": "08:00", "old_parameter": 3}]) == {"window_start": "08:00"}
