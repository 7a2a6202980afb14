"""Case core services: opening, status transitions, holds, unmasking."""

from datetime import timedelta
from decimal import Decimal

import pytest

from recoup.audit.models import AuditEvent
from recoup.cases.models import Case, Debtor, Hold
from recoup.cases.services import (
    CaseInput,
    DebtorInput,
    case_open,
    case_put_on_hold,
    case_release_hold,
    case_transition,
    contact_unmask,
    debtor_get_or_create,
    debtor_unmask,
)
from recoup.core.clock import now
from recoup.core.exceptions import InvalidTransition, PermissionDenied, RecoupError
from tests.fixtures import make_id_number

pytestmark = pytest.mark.django_db


def _input(number="N1", **kw):
    values = {
        "client_case_number": number,
        "product": "loan",
        "account_number": "LN0001",
        "principal": Decimal("1000.10"),
        "interest": Decimal("20.20"),
        "fees": Decimal("0.03"),
        "overdue_days": 95,
    }
    values.update(kw)
    return CaseInput(**values)


def test_opening_a_case_derives_total_and_stage_and_audits(world):
    debtor = world.cases["ada_case"].debtor
    case = case_open(
        contract=world.contract_a, debtor=debtor, branch=world.north, data=_input(), actor=world.sue
    )
    assert case.total_owed == Decimal("1020.33")
    assert case.entrusted_amount == Decimal("1020.33")
    assert case.stage == "M4"
    assert case.status == Case.Status.NEW
    assert case.account_number() == "LN0001"
    assert AuditEvent.objects.filter(action="cases.case.opened", case_id=case.pk).exists()


@pytest.mark.parametrize(
    ("days", "stage"),
    [
        (1, "M1"),
        (30, "M1"),
        (31, "M2"),
        (60, "M2"),
        (61, "M3"),
        (150, "M5"),
        (151, "M6+"),
        (900, "M6+"),
    ],
)
def test_stage_follows_overdue_days(days, stage):
    assert Case.stage_for(days) == stage


def test_a_client_case_number_is_unique_per_contract(world):
    debtor = world.cases["ada_case"].debtor
    with pytest.raises(RecoupError, match="A0001"):
        case_open(
            contract=world.contract_a,
            debtor=debtor,
            branch=world.north,
            data=_input("A0001"),
            actor=None,
        )
    # The same number under another contract is fine.
    case_open(
        contract=world.contract_b,
        debtor=debtor,
        branch=world.north,
        data=_input("A0001"),
        actor=None,
    )


def test_negative_amounts_are_refused_and_nothing_is_stored(world):
    debtor = world.cases["ada_case"].debtor
    before = Case.objects.count()
    with pytest.raises(RecoupError):
        case_open(
            contract=world.contract_a,
            debtor=debtor,
            branch=world.north,
            data=_input(principal=Decimal("-1")),
            actor=None,
        )
    assert Case.objects.count() == before


def test_an_inactive_contract_takes_no_cases(world):
    world.contract_a.status = "ended"
    world.contract_a.save(update_fields=["status"])
    with pytest.raises(RecoupError):
        case_open(
            contract=world.contract_a,
            debtor=world.cases["ada_case"].debtor,
            branch=world.north,
            data=_input(),
            actor=None,
        )


def test_the_same_person_is_one_debtor_across_clients(world):
    existing = world.cases["ada_case"].debtor
    debtor, created = debtor_get_or_create(
        organisation=world.org,
        data=DebtorInput(name="张三丰", id_number=make_id_number(1)),
        actor=None,
    )
    assert not created
    assert debtor.pk == existing.pk


def test_a_bad_id_number_is_refused(world):
    with pytest.raises(RecoupError, match="证件号码无效"):
        debtor_get_or_create(
            organisation=world.org,
            data=DebtorInput(name="某", id_number="110105198805120011"),
            actor=None,
        )
    assert Debtor.objects.for_org(world.org).count() == 4


def test_allowed_transitions_move_the_case(world):
    case = world.cases["ada_case"]  # in collection
    case = case_transition(case=case, to_status="promised", actor=world.sue, reason="PTP")
    assert case.status == "promised"
    case = case_transition(case=case, to_status="paid_off", actor=world.sue)
    assert case.closed_at is not None
    event = AuditEvent.objects.filter(action="cases.case.status_changed", case_id=case.pk).latest(
        "seq"
    )
    assert event.data == {"from": "promised", "to": "paid_off", "reason": ""}


def test_disallowed_transitions_are_refused(world):
    case = world.cases["ada_case"]
    case = case_transition(case=case, to_status="paid_off", actor=world.sue)
    with pytest.raises(InvalidTransition):
        case_transition(case=case, to_status="collecting", actor=world.sue)
    case.refresh_from_db()
    assert case.status == "paid_off"


def test_a_collector_may_not_change_status(world):
    with pytest.raises(PermissionDenied):
        case_transition(case=world.cases["ada_case"], to_status="closed", actor=world.ada)


def test_holds_are_placed_released_and_expire(world):
    case = world.cases["ada_case"]
    hold = case_put_on_hold(case=case, reason="complaint", note="投诉", actor=world.sue)
    assert Hold.objects.active(now()).filter(case=case).exists()
    case_release_hold(hold=hold, actor=world.rick)
    assert not Hold.objects.active(now()).filter(case=case).exists()
    with pytest.raises(RecoupError):
        case_release_hold(hold=hold, actor=world.rick)
    expiring = case_put_on_hold(
        case=case, reason="dispute", expires_at=now() + timedelta(days=1), actor=world.sue
    )
    assert not Hold.objects.active(now() + timedelta(days=2)).filter(pk=expiring.pk).exists()
    assert {e.action for e in AuditEvent.objects.filter(case_id=case.pk)} >= {
        "cases.hold.placed",
        "cases.hold.released",
    }


def test_hold_input_is_checked(world):
    case = world.cases["ada_case"]
    with pytest.raises(RecoupError):
        case_put_on_hold(case=case, reason="bored", actor=world.sue)
    with pytest.raises(RecoupError):
        case_put_on_hold(
            case=case, reason="dispute", expires_at=now() - timedelta(hours=1), actor=world.sue
        )
    with pytest.raises(PermissionDenied):
        case_put_on_hold(case=case, reason="dispute", actor=world.ada)
    assert not Hold.objects.filter(case=case).exists()


def test_unmasking_is_audited_and_needs_permission(world):
    case = world.cases["ada_case"]
    phone = case.debtor.contact_points.get(kind="phone")
    assert contact_unmask(case=case, contact=phone, actor=world.ada) == "13812341234"
    event = AuditEvent.objects.filter(action="cases.contact.unmasked").latest("seq")
    assert event.actor == world.ada
    assert event.object_id == str(phone.pk)
    assert "13812341234" not in str(event.data)
    assert debtor_unmask(case=case, actor=world.sue)["name"] == "张三丰"
    with pytest.raises(PermissionDenied):
        contact_unmask(case=case, contact=phone, actor=world.amy)
    other_phone = world.cases["ben_case"].debtor.contact_points.get(kind="phone")
    with pytest.raises(PermissionDenied):
        contact_unmask(case=case, contact=other_phone, actor=world.ada)


def test_rotating_the_data_key_reseals_everything_and_keeps_it_readable(world):
    from django.core.management import call_command
    from django.test import override_settings

    from recoup.core import crypto
    from recoup.core.crypto import generate_key

    old = {**crypto.keyring().keys}
    old_id = crypto.keyring().active_id
    new_keys = {**old, "k2027": crypto.parse_data_keys(f"k2027:{generate_key()}")["k2027"]}
    with override_settings(RECOUP_DATA_KEYS=new_keys, RECOUP_DATA_KEY_ID="k2027"):
        call_command("reseal_personal_data", batch_size=2)
        assert not Debtor.objects.exclude(pii_key_id="k2027").exists()
        assert not Case.objects.exclude(account_key_id="k2027").exists()
        case = Case.objects.get(pk=world.cases["ada_case"].pk)
        assert case.account_number().startswith("622588")
        assert case.debtor.personal_data()["name"] == "张三丰"
        assert crypto.key_id_of(bytes(case.debtor.pii)) == "k2027"
        # The old key can now be retired.
        only_new = {"k2027": new_keys["k2027"]}
        with override_settings(RECOUP_DATA_KEYS=only_new):
            fresh = Debtor.objects.get(pk=case.debtor_id)
            assert fresh.personal_data()["id_number"] == make_id_number(1)
    assert AuditEvent.objects.filter(action="cases.personal_data.resealed").exists()
    assert old_id in old


def _seal_custom(case: Case, fields: dict[str, str], *, legacy: bool = False) -> None:
    from recoup.core import crypto

    aad = b"case-custom:" + str(case.debtor.uid).encode() if legacy else case.custom_aad()
    case.custom_sealed = crypto.seal_json(fields, aad=aad)
    case.save(update_fields=["custom_sealed"])


def test_the_bank_s_extra_columns_are_revealed_audited_and_only_to_those_who_may(world):
    from recoup.cases.services import case_custom_reveal

    case = world.cases["ada_case"]
    _seal_custom(case, {"客户等级": "VIP", "备注": "周末勿扰"})
    assert case_custom_reveal(case=case, actor=world.sue) == {"客户等级": "VIP", "备注": "周末勿扰"}
    event = AuditEvent.objects.filter(action="cases.custom_fields.viewed").latest("seq")
    assert event.actor == world.sue
    assert event.data == {"fields": ["备注", "客户等级"], "readable": True}
    assert "周末勿扰" not in str(event.data)
    with pytest.raises(PermissionDenied):
        case_custom_reveal(case=case, actor=world.amy)
    # A case without extra columns has none; a record sealed for another case is refused,
    # reported as unreadable, never shown.
    assert world.cases["ben_case"].custom_fields() == {}
    other = world.cases["ben_case"]
    other.custom_sealed = case.custom_sealed
    other.save(update_fields=["custom_sealed"])
    assert case_custom_reveal(case=other, actor=world.sue) is None


def test_rotating_the_data_key_reseals_the_extra_columns_onto_the_case(world):
    from recoup.core import crypto
    from tests.fixtures import data_key_rotated

    current = world.cases["ada_case"]
    legacy = world.cases["ben_case"]
    _seal_custom(current, {"信用额度": "50000"})
    # Bound to the debtor's uid, as imports before 24 Nov 2026 did.
    _seal_custom(legacy, {"客户等级": "普通"}, legacy=True)
    assert legacy.custom_fields() == {"客户等级": "普通"}
    with data_key_rotated(batch_size=2) as key_id:
        for case, fields in [(current, {"信用额度": "50000"}), (legacy, {"客户等级": "普通"})]:
            fresh = Case.objects.get(pk=case.pk)
            assert crypto.key_id_of(bytes(fresh.custom_sealed)) == key_id
            assert crypto.unseal_json(bytes(fresh.custom_sealed), aad=fresh.custom_aad()) == (
                fields
            )


def test_every_sealed_column_is_re_sealed_on_key_rotation():
    """Each binary column holds sealed data; each must be covered by ``reseal_personal_data``
    (or be a staging table, emptied after every import), or retiring an old key loses it."""
    from django.apps import apps
    from django.db import models

    key_tracked = {
        ("cases.debtor", "pii"),
        ("cases.contactpoint", "sealed"),
        ("cases.case", "account_sealed"),
        ("cases.case", "custom_sealed"),  # re-sealed with the case's account
    }
    staging = {"intake.stagedcase", "intake.stagedcontact"}
    uncovered = []
    for model in apps.get_models():
        label = model._meta.label_lower
        declared = getattr(model, "SEALED_FIELDS", {})
        for f in model._meta.get_fields():
            if not isinstance(f, models.BinaryField) or label in staging:
                continue
            if (label, f.name) in key_tracked:
                continue
            if f.name not in declared or not callable(getattr(model, declared[f.name], None)):
                uncovered.append(f"{label}.{f.name}")
    assert not uncovered
