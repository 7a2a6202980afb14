"""Allocation screens: what a supervisor sees and does; what others may not."""

from __future__ import annotations

from datetime import timedelta

import pytest

from recoup.allocation import services
from recoup.allocation.models import AllocationRun, RuleSet
from recoup.allocation.tests.test_services import pending_cases, team_rule_set
from recoup.cases.models import Case
from recoup.core.clock import now

pytestmark = pytest.mark.django_db


def test_only_allocators_reach_the_allocation_screens(world, client, login):
    login(world.ada)
    assert client.get("/allocation/").status_code == 403
    assert client.get("/allocation/manual/").status_code == 403
    client.logout()
    login(world.sue)
    page = client.get("/allocation/")
    assert page.status_code == 200
    assert "分案" in page.content.decode()


def test_a_supervisor_builds_a_rule_set_previews_and_commits(world, client, login):
    ids = pending_cases(world, 9)
    login(world.sue)
    page = client.get("/allocation/")
    assert 'data-testid="pool-A-1">9<' in page.content.decode()
    response = client.post(
        "/allocation/rule-sets/new/",
        {
            "contract": world.contract_a.pk,
            "name": "北分规则",
            "keep_debtor_together": "on",
            "active": "on",
            "r0-name": "M2 给北一、北二组",
            "r0-stages": ["M2"],
            "r0-new_or_reallocated": "any",
            "r0-teams": [world.n1.pk, world.n2.pk],
            "r1-new_or_reallocated": "any",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    rule_set = RuleSet.objects.get(name="北分规则")
    assert rule_set.rules.get().filters == {"stages": ["M2"]}
    response = client.post(f"/allocation/rule-sets/{rule_set.pk}/preview/")
    run = AllocationRun.objects.get(rule_set=rule_set)
    assert response["Location"] == f"/allocation/runs/{run.pk}/"
    page = client.get(response["Location"]).content.decode()
    assert page.count('data-testid="collector-row"') == 3
    assert "提交（分配 9 个案件）" in page
    client.post(f"/allocation/runs/{run.pk}/commit/")
    assert Case.objects.filter(pk__in=ids, status="assigned").count() == 9
    page = client.get(f"/allocation/runs/{run.pk}/").content.decode()
    assert "已提交" in page


def test_a_rule_set_form_error_keeps_what_was_typed(world, client, login):
    login(world.sue)
    response = client.post(
        "/allocation/rule-sets/new/",
        {
            "contract": world.contract_a.pk,
            "name": "无对象",
            "active": "on",
            "r0-name": "没有分配对象",
            "r0-new_or_reallocated": "any",
        },
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert "没有指定催收员或小组" in body
    assert 'value="无对象"' in body
    assert not RuleSet.objects.exists()


def test_the_preview_names_collectors_who_take_nothing_and_why(world, client, login):
    pending_cases(world, 4)
    world.ben.nda_valid_until = now().date() - timedelta(days=1)
    world.ben.save()
    rule_set = team_rule_set(world)
    login(world.sue)
    response = client.post(f"/allocation/rule-sets/{rule_set.pk}/preview/", follow=True)
    body = response.content.decode()
    assert "Ben" in body
    assert "保密协议已过期或未签署" in body


def test_manual_allocation_and_recall_by_case_numbers(world, client, login):
    pending_cases(world, 3)
    login(world.sue)
    response = client.post(
        "/allocation/manual/",
        {
            "contract": world.contract_a.pk,
            "numbers": "P0100, P0101\nP0102",
            "action": "allocate",
            "collector": world.ben.pk,
        },
    )
    assert response.status_code == 302
    run = AllocationRun.objects.get(kind="manual")
    client.post(f"/allocation/runs/{run.pk}/commit/")
    assert (
        Case.objects.filter(client_case_number__startswith="P01", assignee=world.ben).count() == 3
    )
    response = client.post(
        "/allocation/manual/",
        {
            "contract": world.contract_a.pk,
            "numbers": "P0100",
            "action": "recall",
            "reason": "客户投诉，换人跟进",
        },
    )
    assert response.status_code == 302
    case = Case.objects.get(client_case_number="P0100")
    assert case.assignee_id is None
    assert case.previous_assignee_id == world.ben.pk


def test_unknown_case_numbers_are_named_and_nothing_moves(world, client, login):
    pending_cases(world, 1)
    login(world.sue)
    response = client.post(
        "/allocation/manual/",
        {
            "contract": world.contract_a.pk,
            "numbers": "P0100 NOPE-1",
            "action": "allocate",
            "collector": world.ben.pk,
        },
    )
    assert response.status_code == 200
    assert "NOPE-1" in response.content.decode()
    assert not AllocationRun.objects.exists()


def test_the_breach_list_shows_cases_left_unallocated_past_their_deadline(world, client, login):
    ids = pending_cases(world, 2)
    Case.objects.filter(pk=ids[0]).update(allocation_due_at=now() - timedelta(hours=1))
    Case.objects.filter(pk=ids[1]).update(allocation_due_at=now() + timedelta(hours=5))
    login(world.sue)
    body = client.get("/allocation/breaches/").content.decode()
    assert 'data-testid="allocation-breaches">1<' in body
    assert "P0100" in body
    assert "P0101" not in body


def test_another_agencys_run_is_not_found(world, client, login):
    pending_cases(world, 1)
    run = services.run_preview_rules(rule_set=team_rule_set(world), actor=world.sue)
    login(world.ola)
    assert client.get(f"/allocation/runs/{run.pk}/").status_code == 404
    assert client.post(f"/allocation/runs/{run.pk}/commit/").status_code == 404


def test_the_case_page_history_shows_who_got_the_case_by_which_run(world, client, login):
    (cid,) = pending_cases(world, 1)
    run = services.cases_allocate(actor=world.sue, case_ids=[cid], collector=world.ben)
    services.cases_recall(actor=world.sue, case_ids=[cid], reason="换人")
    login(world.sue)
    history = client.get(f"/cases/{cid}/").content.decode()
    assert f"手工分案 #{run.pk}：— → Ben" in history
    assert "收回 #" in history
    assert "Ben → 待分配" in history


def test_manual_allocation_by_filters_and_reallocation_from_one_collector_to_another(
    world, client, login
):
    ids = pending_cases(world, 4)
    Case.objects.filter(pk__in=ids[:2]).update(stage="M3")
    login(world.sue)
    response = client.post(
        "/allocation/manual/",
        {
            "contract": world.contract_a.pk,
            "stages": ["M3"],
            "action": "allocate",
            "collector": world.ben.pk,
        },
    )
    assert response.status_code == 302, response.content.decode()[:1500]
    run = AllocationRun.objects.get(kind="manual")
    assert run.case_count == 2
    client.post(f"/allocation/runs/{run.pk}/commit/")
    # ben's cases of this contract, re-allocated to fay by choosing ben as the current holder
    response = client.post(
        "/allocation/manual/",
        {
            "contract": world.contract_a.pk,
            "holder": world.ben.pk,
            "action": "allocate",
            "collector": world.fay.pk,
        },
    )
    assert response.status_code == 302
    second = AllocationRun.objects.filter(kind="manual").order_by("-id").first()
    client.post(f"/allocation/runs/{second.pk}/commit/")
    moved = Case.objects.filter(pk__in=ids[:2])
    assert {c.assignee_id for c in moved} == {world.fay.pk}
    assert {c.previous_assignee_id for c in moved} == {world.ben.pk}


def test_a_manual_form_without_numbers_or_filters_says_what_is_missing(world, client, login):
    login(world.sue)
    response = client.post(
        "/allocation/manual/",
        {"contract": world.contract_a.pk, "action": "allocate", "collector": world.ben.pk},
    )
    assert response.status_code == 200
    assert "至少一个选择条件" in response.content.decode()


def test_a_supervisor_sets_a_collectors_capacity_skills_and_daily_targets(world, client, login):
    from recoup.allocation.models import CollectorProfile
    from recoup.audit.models import AuditEvent

    login(world.ada)
    assert client.get("/allocation/collectors/").status_code == 403
    assert client.get(f"/allocation/collectors/{world.ada.pk}/").status_code == 403
    client.logout()
    login(world.sue)
    page = client.get("/allocation/collectors/").content.decode()
    assert f'data-testid="collector-{world.ada.pk}"' in page
    form = {
        "max_open_cases": "800",
        "max_total_balance": "5000000",
        "skills": "legal，cantonese",
        "weight": "3",
        "daily_attempts_target": "150",
        "daily_effective_target": "40",
    }
    response = client.post(f"/allocation/collectors/{world.ada.pk}/", form)
    assert response.status_code == 302
    profile = CollectorProfile.objects.get(user=world.ada)
    assert (profile.max_open_cases, profile.skills, profile.weight) == (
        800,
        ["cantonese", "legal"],
        3,
    )
    assert (profile.daily_attempts_target, profile.daily_effective_target) == (150, 40)
    assert AuditEvent.objects.filter(action="allocation.profile.saved").exists()
    # More effective calls than attempts: refused with the reason, the saved values kept.
    bad = client.post(
        f"/allocation/collectors/{world.ada.pk}/",
        {**form, "daily_attempts_target": "30", "weight": "5"},
    )
    assert bad.status_code == 200
    assert "有效通话目标不能多于拨打目标" in bad.content.decode()
    profile.refresh_from_db()
    assert (profile.weight, profile.daily_attempts_target) == (3, 150)
    # A form value out of range is refused by the form itself.
    assert (
        "weight"
        in client.post(f"/allocation/collectors/{world.ada.pk}/", {**form, "weight": "0"})
        .context["form"]
        .errors
    )
    # Someone who is not a collector in the supervisor's scope is not found.
    assert client.get(f"/allocation/collectors/{world.sue.pk}/").status_code == 404
