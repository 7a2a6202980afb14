"""The gate and the queue find a contract's rules in a per-process memo: on SQLite by the
newest versions themselves (``latest_versions_sql`` → ``rules_from_latest``), on PostgreSQL
by a stamp of the organisation's versions (``versions_stamp_sql`` → ``rules_at_stamp``). Both
must answer exactly as ``effective_rules`` does, for every stack, and never from a stale memo
when a profile gains a version."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from recoup.clients.models import Contract
from recoup.compliance.models import ComplianceProfile, ProfileVersion
from recoup.compliance.selectors import (
    effective_rules,
    latest_versions_sql,
    rules_at_stamp,
    rules_for_contracts,
    rules_from_latest,
    versions_stamp_sql,
)

pytestmark = pytest.mark.django_db


def latest(contract: Contract) -> str | None:
    with connection.cursor() as cursor:
        sql = latest_versions_sql(connection.vendor, "%s", "%s")
        cursor.execute(f"SELECT {sql}", [contract.organisation_id, contract.pk])
        row = cursor.fetchone()
    assert row is not None
    return row[0]


def both(contract: Contract, *, reads: int = 0) -> tuple[Any, Any]:
    """The gate's answer (asserting how many statements it needed besides its one read:
    none unless the stack names a profile the read does not hold) and the exact one."""
    contract = Contract.objects.get(pk=contract.pk)
    value = latest(contract)
    with CaptureQueriesContext(connection) as captured:
        fast = rules_from_latest(contract, value)
    assert len(captured.captured_queries) == reads
    return fast, effective_rules(contract)


def new_version(profile: ComplianceProfile, **params: Any) -> ProfileVersion:
    number = (profile.versions.order_by("-number").values_list("number", flat=True).first()) or 0
    current = profile.versions.order_by("-number").first()
    merged = {**(current.params if current else {}), **params}
    return ProfileVersion.objects.create(
        organisation=profile.organisation, profile=profile, number=number + 1, params=merged
    )


def override(contract: Contract, **params: Any) -> ComplianceProfile:
    profile = ComplianceProfile.objects.create(
        organisation_id=contract.organisation_id,
        code=f"contract-{contract.pk}",
        name="合同约定",
        jurisdiction=ComplianceProfile.Jurisdiction.CONTRACT,
        contract=contract,
    )
    new_version(profile, **params)
    return profile


@pytest.mark.parametrize(
    ("stack", "reads"),
    [
        ("cn-default", 0),
        ("us-federal,us-ma", 0),
        ("us-federal， us-ma", 0),
        ("", 0),
        ("cn-nowhere", 1),
    ],
)
def test_the_gates_read_stacks_as_effective_rules_does(world, stack, reads):
    contract = world.contract_a
    contract.compliance_profile = stack
    contract.save(update_fields=["compliance_profile"])
    fast, exact = both(contract, reads=reads)
    assert fast == exact


def test_a_missing_profile_is_reported_missing(world):
    contract = world.contract_a
    contract.compliance_profile = "cn-default, cn-nowhere"
    contract.save(update_fields=["compliance_profile"])
    fast, exact = both(contract, reads=1)
    assert fast.missing == ["cn-nowhere"] == exact.missing
    assert fast == exact


def test_the_contracts_own_override_is_stacked_on_top(world):
    override(world.contract_a, window_start="09:30")
    fast, exact = both(world.contract_a)
    assert fast == exact
    assert fast.get("window_start") == "09:30"
    assert set(fast.versions) == {"cn-default", f"contract-{world.contract_a.pk}"}
    # the other contract does not see it
    other, _ = both(world.contract_b)
    assert other.get("window_start") == "08:00"
    assert set(other.versions) == {"cn-default"}


def test_a_stack_naming_another_contracts_override_reads_it(world):
    profile = override(world.contract_b, window_end="20:00")
    world.contract_a.compliance_profile = f"cn-default,{profile.code}"
    world.contract_a.save(update_fields=["compliance_profile"])
    fast, exact = both(world.contract_a, reads=1)
    assert fast == exact
    assert fast.get("window_end") == "20:00"


def test_a_new_version_is_in_force_at_once(world):
    before, _ = both(world.contract_a)
    assert before.get("max_conversations_per_debtor_per_day") == 3
    profile = ComplianceProfile.objects.get(organisation=world.org, code="cn-default")
    version = new_version(profile, max_conversations_per_debtor_per_day=2)
    after, exact = both(world.contract_a)
    assert after == exact
    assert after.get("max_conversations_per_debtor_per_day") == 2
    assert after.versions["cn-default"] == version.number


def test_several_contracts_rules_are_read_in_one_query(world):
    """The queue's read (``rules_for_contracts``): one statement for every contract, each
    answer exactly ``effective_rules``'s, overrides kept to their own contract."""
    override(world.contract_a, window_start="09:30")
    world.contract_b.compliance_profile = "us-federal,us-ma"
    world.contract_b.save(update_fields=["compliance_profile"])
    contracts = [world.contract_a, world.contract_b]
    rules_for_contracts([c.pk for c in contracts])  # the memo may answer the next call
    with CaptureQueriesContext(connection) as captured:
        found = rules_for_contracts([c.pk for c in contracts] * 2)
    assert len(captured.captured_queries) == 1
    assert set(found) == {c.pk for c in contracts}
    for contract in contracts:
        assert found[contract.pk] == effective_rules(Contract.objects.get(pk=contract.pk))
    assert found[world.contract_a.pk].get("window_start") == "09:30"
    assert found[world.contract_b.pk].get("window_start") != "09:30"
    assert rules_for_contracts([]) == {}


pg_only = pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's stamp")


def stamp_of(contract: Contract) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {versions_stamp_sql('%s')}", [contract.organisation_id])
        row = cursor.fetchone()
    assert row is not None
    return str(row[0])


@pg_only
@pytest.mark.parametrize(
    "stack", ["cn-default", "us-federal,us-ma", "", "cn-nowhere", "cn-default, cn-nowhere"]
)
def test_the_stamped_memo_stacks_as_effective_rules_does(world, stack):
    contract = world.contract_a
    contract.compliance_profile = stack
    contract.save(update_fields=["compliance_profile"])
    contract = Contract.objects.get(pk=contract.pk)
    first = rules_at_stamp(contract, stamp_of(contract))
    with CaptureQueriesContext(connection) as captured:
        again = rules_at_stamp(contract, stamp_of(contract))
    assert len(captured.captured_queries) == 1  # the stamp; the rules come from the memo
    assert first == again == effective_rules(contract)


@pg_only
def test_a_new_version_changes_the_stamp_and_is_in_force_at_once(world):
    contract = Contract.objects.get(pk=world.contract_a.pk)
    before_stamp = stamp_of(contract)
    before = rules_at_stamp(contract, before_stamp)
    assert before.get("max_conversations_per_debtor_per_day") == 3
    profile = ComplianceProfile.objects.get(organisation=world.org, code="cn-default")
    new_version(profile, max_conversations_per_debtor_per_day=2)
    after_stamp = stamp_of(contract)
    assert after_stamp != before_stamp
    after = rules_at_stamp(contract, after_stamp)
    assert after == effective_rules(contract)
    assert after.get("max_conversations_per_debtor_per_day") == 2
    # the override of the contract is a new version too
    override(contract, window_start="09:30")
    assert rules_at_stamp(contract, stamp_of(contract)).get("window_start") == "09:30"


@pg_only
def test_a_version_rolled_back_never_shares_a_stamp_with_a_later_one(world):
    """A transaction that added a version and read rules with it, then rolled back, left a
    memo entry; the next committed version must stamp differently (sequences do not give a
    number twice), or the memo would answer with the rolled-back parameters."""
    contract = Contract.objects.get(pk=world.contract_a.pk)
    profile = ComplianceProfile.objects.get(organisation=world.org, code="cn-default")
    seen: dict[str, Any] = {}

    def add_read_and_fail() -> None:
        with transaction.atomic():
            new_version(profile, max_conversations_per_debtor_per_day=1)
            seen["stamp"] = stamp_of(contract)
            seen["rules"] = rules_at_stamp(contract, seen["stamp"])
            raise RuntimeError("rolled back")

    with pytest.raises(RuntimeError):
        add_read_and_fail()
    inside = seen["stamp"]
    assert seen["rules"].get("max_conversations_per_debtor_per_day") == 1
    new_version(profile, max_conversations_per_debtor_per_day=2)
    later = stamp_of(contract)
    assert later != inside
    assert rules_at_stamp(contract, later).get("max_conversations_per_debtor_per_day") == 2


@pg_only
def test_another_organisations_versions_leave_the_stamp_alone(world):
    before = stamp_of(world.contract_a)
    profile, _ = ComplianceProfile.objects.get_or_create(
        organisation=world.rival,
        code="cn-default",
        defaults={"name": "CN", "jurisdiction": ComplianceProfile.Jurisdiction.CN},
    )
    new_version(profile, max_conversations_per_debtor_per_day=1)
    assert stamp_of(world.contract_a) == before
