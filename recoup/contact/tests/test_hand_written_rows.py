"""``RowShape`` and ``insert_one``: the hand-written read and write of the gate's hot path must
give exactly what the ORM gives (types converted, defaults and auto_now_add applied)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.db import connection

from recoup.cases.models import Case, ContactPoint
from recoup.contact.models import ContactDecision
from recoup.core.db import RowShape, insert_one

pytestmark = pytest.mark.django_db


def test_a_row_shape_converts_as_the_orm_does(world):
    case = world.cases["ada_case"]
    lost = datetime(2026, 11, 20, 8, 30, tzinfo=UTC)
    Case.objects.filter(pk=case.pk).update(lost_contact_since=lost)
    point = ContactPoint.objects.filter(debtor_id=case.debtor_id).first()
    assert point is not None
    ContactPoint.objects.filter(pk=point.pk).update(refused_contact=True)
    case_shape = RowShape(Case, ("id", "status", "lost_contact_since", "assignee_id"))
    point_shape = RowShape(ContactPoint, ("id", "refused_contact", "kind"))
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {case_shape.columns('c')}, {point_shape.columns('p')} "  # noqa: S608
            "FROM cases_case c JOIN cases_contactpoint p ON p.id = %s WHERE c.id = %s",
            [point.pk, case.pk],
        )
        row = cursor.fetchone()
    read = case_shape.instance(row[: len(case_shape)])
    read_point = point_shape.instance(row[len(case_shape) :])
    orm = Case.objects.only("id", "status", "lost_contact_since", "assignee_id").get(pk=case.pk)
    assert isinstance(read, Case)
    assert read.pk == case.pk
    assert read.lost_contact_since == orm.lost_contact_since == lost
    assert read.status == orm.status
    assert read.assignee_id == orm.assignee_id
    assert read_point.refused_contact is True
    assert read.get_deferred_fields() == orm.get_deferred_fields()
    assert not read._state.adding


def test_a_row_shape_refuses_a_column_the_model_does_not_have():
    with pytest.raises(ValueError, match="no columns"):
        RowShape(Case, ("id", "nonsense"))


def test_insert_one_writes_what_the_orm_would(world):
    case = world.cases["ada_case"]
    at = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
    fields = {
        "organisation_id": case.organisation_id,
        "case": case,
        "debtor_id": case.debtor_id,
        "actor": world.people["ada"],
        "channel": "call",
        "at": at,
        "zone": "Asia/Shanghai",
        "allowed": False,
        "rules": [{"code": "hold", "params": {"reason": "停催"}}],
        "profile_versions": {"cn-default": 1},
        "expires_at": None,
    }
    fast = ContactDecision(**fields)
    insert_one(fast)
    slow = ContactDecision.objects.create(**fields)
    assert fast.pk is not None
    assert not fast._state.adding
    assert fast.pk != slow.pk
    assert fast.uid != slow.uid
    stored = ContactDecision.objects.get(pk=fast.pk)
    reference = ContactDecision.objects.get(pk=slow.pk)
    for f in ContactDecision._meta.concrete_fields:
        if f.name in {"id", "uid", "created_at"}:
            continue
        assert getattr(stored, f.attname) == getattr(reference, f.attname), f.name
    assert stored.uid == fast.uid
    assert stored.created_at is not None
    assert stored.created_at == fast.created_at
    assert stored.rules == [{"code": "hold", "params": {"reason": "停催"}}]
