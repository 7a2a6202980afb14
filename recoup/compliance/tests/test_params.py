"""The compliance parameter catalogue: validating a profile's values and stacking profiles.

``clean_params`` must reject every bad value with a message naming the parameter, and
``stack`` must take, parameter by parameter, the most restrictive value of the profiles.
"""

from __future__ import annotations

import json
from datetime import time
from pathlib import Path
from typing import Any

import pytest
from django.utils import translation
from hypothesis import given
from hypothesis import strategies as st

from recoup.compliance.params import (
    BY_NAME,
    CHANNELS,
    PARAMS,
    ParamError,
    clean_params,
    describe,
    parse_time,
    stack,
)

DEFAULTS = json.loads(
    (Path(__file__).resolve().parents[1] / "data" / "defaults.json").read_text("utf-8")
)


def label(name: str) -> str:
    return str(BY_NAME[name].label)


# --- clean_params: good values, normalised -------------------------------------------------


def test_the_default_profiles_are_clean_and_stay_as_written():
    for profile in DEFAULTS["profiles"]:
        assert clean_params(profile["params"]) == profile["params"], profile["code"]


def test_every_catalogue_kind_is_one_clean_params_knows():
    assert {p.kind for p in PARAMS} <= {"int", "bool", "time", "zones", "channels", "weekdays"}
    assert {p.combine for p in PARAMS} <= {"min", "max", "and", "or", "union", "latest", "earliest"}


@pytest.mark.parametrize(
    ("name", "raw", "clean"),
    [
        ("max_conversations_per_debtor_per_day", 3, 3),
        ("max_conversations_per_debtor_per_day", " 3 ", 3),
        ("max_conversations_per_debtor_per_day", "0", 0),
        ("consent_overrides_window", "是", True),
        ("consent_overrides_window", "否", False),
        ("consent_overrides_window", "TRUE", True),
        ("consent_overrides_window", "0", False),
        ("consent_overrides_window", False, False),
        ("window_start", " 08:00 ", "08:00"),
        ("window_end", "24:00", "24:00"),
        ("window_channels", "call, sms，email、visit", ["call", "sms", "email", "visit"]),
        ("window_channels", ["sms", "call", "sms"], ["call", "sms"]),
        ("blocked_weekdays", "6 0 6", [0, 6]),
        ("blocked_weekdays", [5, "6"], [5, 6]),
        ("time_zones", "Asia/Shanghai, America/New_York", ["Asia/Shanghai", "America/New_York"]),
    ],
)
def test_good_values_are_normalised(name, raw, clean):
    assert clean_params({name: raw}) == {name: clean}


@pytest.mark.parametrize("empty", [None, "", []])
def test_an_empty_value_means_the_profile_does_not_set_it(empty):
    assert clean_params({"max_calls_per_debt_7d": empty, "window_start": "08:00"}) == {
        "window_start": "08:00"
    }


# --- clean_params: bad values, each named ----------------------------------------------------


@pytest.mark.parametrize(
    ("name", "raw"),
    [
        ("max_conversations_per_debtor_per_day", -1),
        ("max_conversations_per_debtor_per_day", "-2"),
        ("max_conversations_per_debtor_per_day", "三"),
        ("max_conversations_per_debtor_per_day", 2.5),
        ("max_conversations_per_debtor_per_day", "2.5"),
        ("max_conversations_per_debtor_per_day", True),
        ("max_unanswered_per_number_per_day", "six"),
        ("conversation_cooldown_days", [7]),
        ("recording_retention_days", "730天"),
        ("consent_overrides_window", "maybe"),
        ("all_candidate_zones", 2),
        ("window_start", "8:00"),
        ("window_start", "08:60"),
        ("window_end", "24:30"),
        ("window_end", "25:00"),
        ("window_end", "22"),
        ("window_start", 800),
        ("window_channels", "call, fax"),
        ("window_channels", ["pigeon"]),
        ("blocked_weekdays", "7"),
        ("blocked_weekdays", "-1"),
        ("blocked_weekdays", "周日"),
        ("time_zones", "Mars/Olympus_Mons"),
        ("time_zones", ["Asia/Shanghai", "../../etc/passwd"]),
    ],
)
def test_a_bad_value_is_refused_naming_the_parameter(name, raw):
    with translation.override("zh-hans"), pytest.raises(ParamError) as error:
        clean_params({name: raw})
    assert label(name) in str(error.value)


def test_the_unknown_channel_zone_and_name_are_shown():
    with translation.override("zh-hans"):
        with pytest.raises(ParamError, match="fax"):
            clean_params({"window_channels": "call,fax"})
        with pytest.raises(ParamError, match="Mars/Base"):
            clean_params({"time_zones": "Mars/Base"})
        with pytest.raises(ParamError, match="max_calls_per_week, night_mode"):
            clean_params({"night_mode": True, "max_calls_per_week": 1, "window_start": "08:00"})


def test_the_window_must_open_before_it_closes():
    with translation.override("zh-hans"):
        for start, end in (("22:00", "08:00"), ("09:00", "09:00")):
            with pytest.raises(ParamError, match="开始须早于结束"):
                clean_params({"window_start": start, "window_end": end})
    assert clean_params({"window_start": "00:00", "window_end": "24:00"}) == {
        "window_start": "00:00",
        "window_end": "24:00",
    }


def test_a_bad_value_is_named_in_english_too():
    with translation.override("en"):
        with pytest.raises(ParamError) as error:
            clean_params({"max_calls_per_debt_7d": "x"})
        assert label("max_calls_per_debt_7d") in str(error.value)
        assert describe("max_calls_per_debt_7d") == label("max_calls_per_debt_7d")
    assert describe("no_such_parameter") == "no_such_parameter"


def test_parse_time_reads_24_00_as_the_end_of_the_day():
    assert parse_time("08:00") == time(8, 0)
    assert parse_time("24:00") == time.max
    with pytest.raises(ParamError):
        parse_time("24:01")


# --- stack: the most restrictive value of each parameter -----------------------------------


def test_the_us_federal_and_massachusetts_stack():
    profiles = {p["code"]: p["params"] for p in DEFAULTS["profiles"]}
    effective = stack([profiles["us-federal"], profiles["us-ma"]])
    assert effective["max_calls_per_debt_7d"] == 2
    assert effective["window_start"] == "08:00"
    assert effective["window_end"] == "21:00"
    assert effective["conversation_cooldown_days"] == 7


@pytest.mark.parametrize(
    ("name", "values", "strictest"),
    [
        ("window_start", ["08:00", "09:30", "07:00"], "09:30"),  # the later opening
        ("window_end", ["22:00", "21:00", "24:00"], "21:00"),  # the earlier closing
        ("window_end", ["24:00", "23:59"], "23:59"),
        ("max_conversations_per_debtor_per_day", [3, 1, 5], 1),  # the lower cap
        ("max_unanswered_per_number_per_day", [6, 4], 4),
        ("max_calls_per_debt_7d", [7, 2], 2),
        ("max_conversations_per_third_party", [1, 3], 1),
        ("sms_per_debtor_per_day", [0, 2], 0),  # zero means none at all
        ("third_party_unlock_failures", [3, 5], 5),  # more failures before unlocking
        ("conversation_cooldown_days", [7, 10], 10),  # the longer cool-down
        ("visit_min_collectors", [2, 3], 3),
        ("recording_retention_days", [730, 1095], 1095),  # the longer retention
        ("consent_overrides_window", [True, False], False),  # consent opens only if all agree
        ("third_party_contact_allowed", [True, False], False),
        ("all_candidate_zones", [False, True], True),  # every zone must pass if any says so
        ("window_channels", [["sms", "call"], ["visit", "call"]], ["call", "sms", "visit"]),
        ("blocked_weekdays", [[6], [0, 6]], [0, 6]),
        ("time_zones", [["Asia/Shanghai"], ["America/New_York"]], None),
    ],
)
def test_each_parameter_takes_its_most_restrictive_value(name, values, strictest):
    effective = stack([{name: v} for v in values])
    if name == "time_zones":
        assert set(effective[name]) == {"Asia/Shanghai", "America/New_York"}
    else:
        assert effective[name] == strictest


def test_a_parameter_no_profile_sets_is_no_rule_and_one_profile_s_value_stands():
    effective = stack([{"window_start": "08:00"}, {"max_calls_per_debt_7d": 7}])
    assert effective == {"window_start": "08:00", "max_calls_per_debt_7d": 7}
    assert stack([]) == {}


def test_a_contract_override_tightens_but_never_loosens_cn_default():
    cn = next(p["params"] for p in DEFAULTS["profiles"] if p["code"] == "cn-default")
    override = clean_params(
        {
            "window_end": "23:00",  # looser: ignored
            "window_start": "09:00",  # tighter: wins
            "max_conversations_per_debtor_per_day": 5,  # looser: ignored
            "max_unanswered_per_number_per_day": 2,  # tighter: wins
            "consent_overrides_window": True,
        }
    )
    effective = stack([cn, override])
    assert effective["window_start"] == "09:00"
    assert effective["window_end"] == "22:00"
    assert effective["max_conversations_per_debtor_per_day"] == 3
    assert effective["max_unanswered_per_number_per_day"] == 2
    assert effective["consent_overrides_window"] is True


# --- properties: stacking is order-free and adding a profile only tightens ------------------

TIMES = st.builds(
    lambda h, m: f"{h:02d}:{m:02d}", st.integers(0, 23), st.integers(0, 59)
) | st.just("24:00")
VALUES: dict[str, st.SearchStrategy[Any]] = {
    "int": st.integers(0, 50),
    "bool": st.booleans(),
    "time": TIMES,
    "channels": st.lists(st.sampled_from(CHANNELS), min_size=1, unique=True),
    "weekdays": st.lists(st.integers(0, 6), min_size=1, unique=True).map(sorted),
    "zones": st.lists(
        st.sampled_from(["Asia/Shanghai", "America/New_York", "America/Los_Angeles"]),
        min_size=1,
        unique=True,
    ),
}
LAYER = st.fixed_dictionaries({}, optional={p.name: VALUES[p.kind] for p in PARAMS})


def at_least_as_strict(name: str, tighter: Any, looser: Any) -> bool:
    combine = BY_NAME[name].combine
    if combine == "min":
        return bool(tighter <= looser)
    if combine == "max":
        return bool(tighter >= looser)
    if combine == "and":
        return not tighter or bool(looser)
    if combine == "or":
        return bool(tighter) or not looser
    if combine == "union":
        return set(looser) <= set(tighter)
    if combine == "latest":
        return parse_time(tighter) >= parse_time(looser)
    if combine == "earliest":
        return parse_time(tighter) <= parse_time(looser)
    raise AssertionError(combine)


@given(layers=st.lists(LAYER, max_size=4), extra=LAYER)
def test_adding_a_profile_never_loosens_any_parameter(layers, extra):
    before = stack(layers)
    after = stack([*layers, extra])
    assert set(before) <= set(after)
    for name, value in before.items():
        assert at_least_as_strict(name, after[name], value), (name, value, after[name])
    for name, value in extra.items():  # and the new profile's own values are respected
        assert at_least_as_strict(name, after[name], value), (name, value, after[name])


@given(layers=st.lists(LAYER, max_size=4), data=st.data())
def test_the_order_of_the_profiles_does_not_matter(layers, data):
    shuffled = data.draw(st.permutations(layers))
    assert stack(shuffled) == stack(layers)


@given(layer=LAYER)
def test_clean_params_accepts_what_it_produces(layer):
    start, end = layer.get("window_start"), layer.get("window_end")
    if start and end and parse_time(start) >= parse_time(end):
        with pytest.raises(ParamError):
            clean_params(layer)
        return
    cleaned = clean_params(layer)
    assert clean_params(cleaned) == cleaned
