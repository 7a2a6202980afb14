import pytest
from django.core.management import call_command

from recoup.accounts.models import Role, User
from recoup.cases.models import Case, ContactPoint, Debtor
from recoup.core.identity import normalise_id_number
from recoup.demo.services import DEMO_PASSWORD, demo_seed

pytestmark = pytest.mark.django_db


def test_it_creates_a_synthetic_agency_with_every_role(capsys):
    call_command("seed_demo", cases=200)
    out = capsys.readouterr().out
    assert "200 synthetic cases" in out
    for role in Role.objects.all():
        assert User.objects.filter(roles=role).exists(), role.code
        assert role.name in out
    user = User.objects.get(username="bj_t1_c1")
    assert user.check_password(DEMO_PASSWORD)
    assert Case.objects.count() == 200
    # Two branches, four teams, two clients.
    assert Case.objects.values("branch").distinct().count() == 2
    assert Case.objects.values("client").distinct().count() == 2


def test_id_numbers_pass_the_gb11643_check_and_phones_look_real():
    demo_seed(cases=100)
    for debtor in Debtor.objects.all():
        number = debtor.personal_data()["id_number"]
        assert normalise_id_number(number) == number
    for cp in ContactPoint.objects.filter(kind="phone")[:50]:
        value = cp.personal_data()["value"]
        assert len(value) == 11
        assert value.startswith("1")


def test_some_people_have_cases_at_both_clients():
    demo_seed(cases=300)
    shared = [d for d in Debtor.objects.all() if d.cases.values("client").distinct().count() > 1]
    assert shared


def test_running_it_twice_creates_nothing_more():
    demo_seed(cases=50)
    again = demo_seed(cases=50)
    assert not again.created
    assert Case.objects.count() == 50


def test_collectors_find_a_working_queue():
    from recoup.contact.models import ContactAttempt, Promise
    from recoup.contact.queue import my_queue

    demo_seed(cases=600)
    assert ContactAttempt.objects.exists()
    assert Promise.objects.filter(status="open").exists()
    assert Case.objects.filter(intensive_follow_up=True).exists()
    collector = User.objects.get(username="bj_t1_c1")
    queue = my_queue(collector)
    rows = queue.rows + queue.blocked
    assert rows
    assert all(row.reasons for row in rows)


def test_payments_went_through_the_ledger_and_the_queue_has_work():
    from recoup.cases import ledger
    from recoup.money.models import Payment

    demo_seed(cases=300)
    assert ledger.mismatches() == []
    assert Payment.objects.filter(status="posted").exists()
    assert Payment.objects.filter(status="unmatched").count() == 6
    for case in Case.objects.filter(status__in=["paid_off", "settled"]):
        assert case.total_owed == 0
    from recoup.money.models import RepaymentPlan

    on_plan = Case.objects.filter(status="on_plan")
    assert on_plan.exists()
    assert RepaymentPlan.objects.filter(status="active").count() == on_plan.count()
