"""Allocation end to end on the database: rule sets, previews, commits, manual, recall."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.db import connection, connections

from recoup.accounts.models import Team
from recoup.allocation import services
from recoup.allocation.models import AllocationLine, AllocationRun
from recoup.allocation.services import RuleInput, TargetInput
from recoup.audit.models import AuditEvent
from recoup.cases.models import Case, Hold
from recoup.core.exceptions import PermissionDenied, RecoupError
from tests.fixtures import _case, table_indexes

pytestmark = pytest.mark.django_db
SHANGHAI = ZoneInfo("Asia/Shanghai")


def pending_cases(world, n, *, start=100, contract=None, amounts=None):
    made = []
    for i in range(n):
        case = _case(
            world.org,
            contract or world.contract_a,
            world.north,
            f"P{start + i:04d}",
            start + i,
            f"1390000{start + i:04d}",
        )
        amount = (amounts or [])[i] if amounts else Decimal(1000 + 137 * i)
        Case.objects.filter(pk=case.pk).update(
            status=Case.Status.PENDING_ALLOCATION, total_owed=amount
        )
        made.append(case.pk)
    return made


def team_rule_set(world, *, teams=None, name="默认", **options):
    return services.rule_set_save(
        contract=world.contract_a,
        name=name,
        rules=[
            RuleInput(
                name="全部",
                targets=[TargetInput(team_id=t.pk) for t in (teams or [world.n1, world.n2])],
            )
        ],
        actor=world.sue,
        **options,
    )


def test_a_preview_changes_nothing_and_its_commit_assigns_every_case(world):
    ids = pending_cases(world, 12)
    rule_set = team_rule_set(world)
    run = services.run_preview_rules(rule_set=rule_set, actor=world.sue)
    assert run.status == "preview"
    assert run.case_count == 12
    assert run.placed_count == 12
    assert not Case.objects.filter(pk__in=ids, assignee__isnull=False).exists()
    per = {row["collector_id"]: row["cases"] for row in run.result["collectors"]}
    # ada (n1), ben and fay (n2): 12 cases, 4 each
    assert per == {world.ada.pk: 4, world.ben.pk: 4, world.fay.pk: 4}

    at = datetime(2026, 3, 2, 10, 0, tzinfo=SHANGHAI)  # a Monday
    run = services.run_commit(run=run, actor=world.sue, at=at)
    assert run.status == "committed"
    cases = Case.objects.filter(pk__in=ids)
    assert {c.status for c in cases} == {"assigned"}
    assert all(c.team_id == c.assignee.team_id for c in cases)
    case = cases.first()
    assert case.assigned_at == at
    assert case.first_action_due_at == at + timedelta(hours=2)
    # 3 working days after Monday (that day excluded): Thursday, end of day.
    assert case.first_round_due_at.astimezone(SHANGHAI).date().isoformat() == "2026-03-05"
    assert case.allocation_seq == 1
    line = AllocationLine.objects.get(run=run, case_id=case.pk)
    assert line.rule_name == "全部"
    assert line.collector_id == case.assignee_id
    event = AuditEvent.objects.get(action="allocation.run.committed", object_id=str(run.pk))
    assert event.data["cases"] == 12


def test_the_first_round_deadline_skips_a_chinese_holiday_and_counts_the_make_up_day(world):
    ids = pending_cases(world, 2)
    run = services.run_preview_rules(rule_set=team_rule_set(world), actor=world.sue)
    at = datetime(2025, 9, 30, 16, 0, tzinfo=SHANGHAI)  # the eve of National Day
    services.run_commit(run=run, actor=world.sue, at=at)
    due = Case.objects.get(pk=ids[0]).first_round_due_at.astimezone(SHANGHAI).date()
    # Oct 1–8 are holidays; Oct 9 (Thu), 10 (Fri), 11 (Sat, a make-up working day).
    assert due.isoformat() == "2025-10-11"


def test_an_untrained_collector_gets_nothing_and_the_preview_says_why(world):
    pending_cases(world, 6)
    world.ada.training_valid_until = world.ada.training_valid_until.replace(year=2020)
    world.ada.save()
    run = services.run_preview_rules(rule_set=team_rule_set(world), actor=world.sue)
    placed_to = set(
        AllocationLine.objects.filter(run=run, collector__isnull=False).values_list(
            "collector_id", flat=True
        )
    )
    assert world.ada.pk not in placed_to
    assert {"collector_id": world.ada.pk, "reason": "training_lapsed"} in run.result["ineligible"]


def test_a_pool_without_any_collector_leaves_every_case_unplaced_with_a_reason(world):
    ids = pending_cases(world, 3)
    empty = Team.objects.create(organisation=world.org, branch=world.north, name="空组", code="e")
    run = services.run_preview_rules(rule_set=team_rule_set(world, teams=[empty]), actor=world.sue)
    assert run.placed_count == 0
    lines = AllocationLine.objects.filter(run=run)
    assert lines.count() == 3
    assert all(line.collector_id is None and line.reason for line in lines)
    run = services.run_commit(run=run, actor=world.sue)
    assert not Case.objects.filter(pk__in=ids, assignee__isnull=False).exists()


def test_held_cases_stay_unplaced_because_of_the_hold(world):
    ids = pending_cases(world, 3)
    Hold.objects.create(
        organisation=world.org, case_id=ids[0], reason="complaint", set_by=world.sue
    )
    run = services.run_preview_rules(rule_set=team_rule_set(world), actor=world.sue)
    assert AllocationLine.objects.get(run=run, case_id=ids[0]).reason == "on_hold"
    services.run_commit(run=run, actor=world.sue)
    assert Case.objects.get(pk=ids[0]).assignee_id is None
    assert Case.objects.filter(pk__in=ids[1:], assignee__isnull=False).count() == 2


def test_a_run_on_a_stale_preview_is_refused_whole(world):
    ids = pending_cases(world, 6)
    rule_set = team_rule_set(world)
    first = services.run_preview_rules(rule_set=rule_set, actor=world.sue)
    second = services.run_preview_rules(rule_set=rule_set, actor=world.hal)
    services.run_commit(run=second, actor=world.hal)
    before = {c.pk: c.assignee_id for c in Case.objects.filter(pk__in=ids)}
    with pytest.raises(services.StaleRun):
        services.run_commit(run=first, actor=world.sue)
    assert {c.pk: c.assignee_id for c in Case.objects.filter(pk__in=ids)} == before
    first.refresh_from_db()
    assert first.status == "stale"
    with pytest.raises(RecoupError):
        services.run_commit(run=second, actor=world.hal)  # already committed


def test_manual_allocation_recall_and_no_return_to_the_previous_collector(world):
    ids = pending_cases(world, 4)
    run = services.cases_allocate(actor=world.sue, case_ids=ids[:2], collector=world.ben)
    assert run.kind == "manual"
    assert set(Case.objects.filter(pk__in=ids[:2]).values_list("assignee_id", flat=True)) == {
        world.ben.pk
    }
    recall = services.cases_recall(actor=world.sue, case_ids=ids[:2], reason="周期调整")
    assert recall.kind == "recall"
    recalled = Case.objects.get(pk=ids[0])
    assert recalled.assignee_id is None
    assert recalled.status == "pending"
    assert recalled.previous_assignee_id == world.ben.pk
    rule_set = team_rule_set(world, teams=[world.n2], avoid_previous_collector=True)
    run = services.run_preview_rules(rule_set=rule_set, actor=world.sue)
    services.run_commit(run=run, actor=world.sue)
    for pk in ids[:2]:
        assert Case.objects.get(pk=pk).assignee_id == world.fay.pk  # never back to ben


def test_manual_allocation_refuses_closed_cases_and_cases_out_of_scope(world):
    ids = pending_cases(world, 2)
    Case.objects.filter(pk=ids[0]).update(status="closed")
    run = services.run_preview_manual(actor=world.sue, case_ids=ids, collector=world.ada)
    assert AllocationLine.objects.get(run=run, case_id=ids[0]).reason == "case_closed"
    assert run.placed_count == 1
    # max manages the south branch: north cases are not his to allocate
    with pytest.raises(RecoupError):
        services.run_preview_manual(actor=world.max, case_ids=ids[1:], collector=world.ada)
    with pytest.raises(PermissionDenied):
        services.run_preview_manual(actor=world.ada, case_ids=ids[1:], collector=world.ada)


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        (RuleInput(name="无目标", targets=[]), "没有指定"),
        (
            RuleInput(
                name="金额",
                filters={"min_balance": "500", "max_balance": "100"},
                targets=[TargetInput(team_id=0)],
            ),
            "最低金额",
        ),
        (RuleInput(name="权重", targets=[TargetInput(collector_id=0, weight=0)]), "权重"),
    ],
)
def test_bad_rule_sets_are_refused_with_a_reason(world, rule, message):
    for target in rule.targets:
        if target.team_id == 0:
            target.team_id = world.n1.pk
        if target.collector_id == 0:
            target.collector_id = world.ada.pk
    with pytest.raises(RecoupError, match=message):
        services.rule_set_save(contract=world.contract_a, name="坏", rules=[rule], actor=world.sue)


def test_a_non_collector_cannot_be_a_target_and_only_allocators_edit_rules(world):
    with pytest.raises(RecoupError, match="不是催收员"):
        services.rule_set_save(
            contract=world.contract_a,
            name="x",
            rules=[RuleInput(name="r", targets=[TargetInput(collector_id=world.amy.pk)])],
            actor=world.sue,
        )
    with pytest.raises(PermissionDenied):
        services.rule_set_save(
            contract=world.contract_a,
            name="x",
            rules=[RuleInput(name="r", targets=[TargetInput(team_id=world.n1.pk)])],
            actor=world.ada,
        )


def test_rule_set_edits_bump_the_version_and_runs_keep_the_rules_they_used(world):
    pending_cases(world, 2)
    rule_set = team_rule_set(world)
    run = services.run_preview_rules(rule_set=rule_set, actor=world.sue)
    services.rule_set_save(
        contract=world.contract_a,
        name="默认",
        rules=[RuleInput(name="只给北二组", targets=[TargetInput(team_id=world.n2.pk)])],
        actor=world.sue,
        rule_set=rule_set,
    )
    rule_set.refresh_from_db()
    assert rule_set.version == 2
    assert run.parameters["rule_set"]["version"] == 1
    assert run.parameters["rule_set"]["rules"][0]["name"] == "全部"


@pytest.mark.django_db(transaction=True)
def test_two_supervisors_committing_overlapping_runs_at_once_never_double_assign(world):
    if connection.vendor == "sqlite":
        pytest.skip("needs a server database: the PostgreSQL leg of CI runs it")
    ids = pending_cases(world, 20)
    rule_set = team_rule_set(world)
    runs = [
        services.run_preview_rules(rule_set=rule_set, actor=world.sue),
        services.run_preview_rules(rule_set=rule_set, actor=world.hal),
    ]
    outcomes: list[object] = []
    barrier = threading.Barrier(2)

    def commit(run, actor):
        try:
            barrier.wait()
            services.run_commit(run=run, actor=actor)
            outcomes.append("ok")
        except services.StaleRun as exc:
            outcomes.append(exc)
        finally:
            connections.close_all()

    threads = [
        threading.Thread(target=commit, args=(runs[0], world.sue)),
        threading.Thread(target=commit, args=(runs[1], world.hal)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes.count("ok") == 1, outcomes
    statuses = set(
        AllocationRun.objects.filter(pk__in=[r.pk for r in runs]).values_list("status", flat=True)
    )
    assert statuses == {"committed", "stale"}
    cases = Case.objects.filter(pk__in=ids)
    assert all(c.allocation_seq == 1 for c in cases)
    assert all(c.assignee_id is not None for c in cases)


def test_a_rule_on_the_debtors_province_takes_its_cases_first(world):
    ids = pending_cases(world, 4)  # the world's debtors live in 北京市
    rule_set = services.rule_set_save(
        contract=world.contract_a,
        name="按地区",
        rules=[
            RuleInput(
                name="北京",
                filters={"provinces": ["北京市"]},
                targets=[TargetInput(team_id=world.n1.pk)],
            ),
            RuleInput(name="其他", targets=[TargetInput(team_id=world.n2.pk)]),
        ],
        actor=world.sue,
    )
    run = services.run_preview_rules(rule_set=rule_set, actor=world.sue)
    lines = AllocationLine.objects.filter(run=run, case_id__in=ids)
    assert {line.collector_id for line in lines} == {world.ada.pk}
    assert {line.rule_name for line in lines} == {"北京"}


def test_a_branch_managers_rule_preview_reads_only_their_branchs_cases(world):
    north = pending_cases(world, 3)
    south = _case(world.org, world.contract_a, world.south, "S0001", 901, "13900009011")
    Case.objects.filter(pk=south.pk).update(status=Case.Status.PENDING_ALLOCATION)
    s1 = Team.objects.get(code="s1")
    rule_set = team_rule_set(world, teams=[s1, world.n1])

    run = services.run_preview_rules(rule_set=rule_set, actor=world.max)

    lines = set(AllocationLine.objects.filter(run=run).values_list("case_id", flat=True))
    assert lines == {south.pk}
    assert not lines & set(north)
    # the north supervisor reads the north cases only; HQ reads both branches
    run = services.run_preview_rules(rule_set=rule_set, actor=world.sue)
    assert set(AllocationLine.objects.filter(run=run).values_list("case_id", flat=True)) == set(
        north
    )
    run = services.run_preview_rules(rule_set=rule_set, actor=world.hal)
    lines = set(AllocationLine.objects.filter(run=run).values_list("case_id", flat=True))
    assert lines == {south.pk, *north}


def test_a_commit_moving_most_cases_leaves_the_case_indexes_as_they_were(world, monkeypatch):
    # On SQLite a large commit rebuilds the indexes it would otherwise update case by case.
    monkeypatch.setattr(services, "REBUILD_MIN_CASES", 1)
    ids = pending_cases(world, 12)
    indexes = table_indexes("cases_case")
    assert set(services.MOVED_CASE_INDEXES) <= set(indexes)
    rule_set = team_rule_set(world)
    first = services.run_preview_rules(rule_set=rule_set, actor=world.sue)
    second = services.run_preview_rules(rule_set=rule_set, actor=world.sue)

    services.run_commit(run=second, actor=world.sue)

    assert table_indexes("cases_case") == indexes
    assert Case.objects.filter(pk__in=ids, assignee=world.ada, status="assigned").count() == 4
    # refused whole: nothing moved and the indexes are still there
    before = dict(Case.objects.filter(pk__in=ids).values_list("pk", "assignee_id"))
    with pytest.raises(services.StaleRun):
        services.run_commit(run=first, actor=world.sue)
    assert table_indexes("cases_case") == indexes
    assert dict(Case.objects.filter(pk__in=ids).values_list("pk", "assignee_id")) == before
