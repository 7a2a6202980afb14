"""The audit log is append-only, written with its change, and tamper-evident."""

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, transaction

from recoup.audit.models import AppendOnlyError, AuditChain, AuditEvent
from recoup.audit.services import audit_record
from recoup.audit.verify import audit_verify

pytestmark = pytest.mark.django_db


def _events(world, n=5):
    for i in range(n):
        audit_record(
            action="audit.test.happened",
            actor=world.sue,
            organisation=world.org,
            case_id=world.cases["ada_case"].pk,
            data={"i": i, "note": "变更"},
        )


def _chain(world):
    return next(r for r in audit_verify() if r.chain_key == world.org.pk)


def test_a_clean_log_verifies(world):
    _events(world)
    report = _chain(world)
    assert report.ok, report.problems
    assert report.events >= 5
    call_command("audit_verify")  # exits 0


def _raw(sql, params):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def test_it_detects_an_edited_row(world):
    _events(world)
    victim = AuditEvent.objects.filter(
        chain_key=world.org.pk, action="audit.test.happened"
    ).order_by("seq")[2]
    # Tampering happens behind the application's back, straight in the database.
    _raw(
        "UPDATE audit_auditevent SET data = %s WHERE id = %s",
        ['{"i": 99, "note": "改"}', victim.pk],
    )
    report = _chain(world)
    assert not report.ok
    assert any(f"seq {victim.seq}" in p and "edited" in p for p in report.problems)
    with pytest.raises(CommandError):
        call_command("audit_verify")


def test_it_detects_an_edited_actor(world):
    _events(world)
    victim = AuditEvent.objects.filter(chain_key=world.org.pk).order_by("seq")[1]
    _raw("UPDATE audit_auditevent SET actor_id = %s WHERE id = %s", [world.ada.pk, victim.pk])
    assert not _chain(world).ok


def test_it_detects_a_deleted_row(world):
    _events(world)
    victim = AuditEvent.objects.filter(chain_key=world.org.pk).order_by("seq")[3]
    _raw("DELETE FROM audit_auditevent WHERE id = %s", [victim.pk])
    report = _chain(world)
    assert any("deleted or inserted" in p for p in report.problems)


def test_it_detects_deleting_the_newest_rows(world):
    _events(world)
    last = AuditEvent.objects.filter(chain_key=world.org.pk).order_by("-seq").first()
    _raw("DELETE FROM audit_auditevent WHERE id = %s", [last.pk])
    report = _chain(world)
    assert any("events at the end were deleted" in p for p in report.problems)


def test_it_detects_an_inserted_row(world):
    _events(world)
    rows = list(AuditEvent.objects.filter(chain_key=world.org.pk).order_by("seq"))
    # Forge an event between seq 2 and 3 by shifting the later ones.
    _raw(
        "UPDATE audit_auditevent SET seq = seq + 1000 WHERE chain_key = %s AND seq > %s",
        [world.org.pk, rows[1].seq],
    )
    forged = rows[1]
    _raw(
        "INSERT INTO audit_auditevent (chain_key, seq, organisation_id, occurred_at, actor_kind, "
        "actor_label, action, object_type, object_id, data, request_id, prev_hash, hash) "
        "VALUES (%s, %s, %s, %s, 'user', 'x', 'audit.forged.added', '', '', '{}', '', %s, %s)",
        [world.org.pk, forged.seq + 1, world.org.pk, forged.occurred_at, forged.hash, "f" * 64],
    )
    assert not _chain(world).ok


def test_events_are_append_only_through_the_orm(world):
    _events(world, 1)
    event = AuditEvent.objects.filter(chain_key=world.org.pk).first()
    event.action = "audit.test.rewritten"
    with pytest.raises(AppendOnlyError):
        event.save()
    with pytest.raises(AppendOnlyError):
        event.delete()
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.filter(pk=event.pk).update(action="x.y.z")
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.filter(pk=event.pk).delete()


def test_an_event_rolls_back_with_its_change(world):
    before = AuditEvent.objects.count()
    head_before = AuditChain.objects.get(chain_key=world.org.pk).last_seq

    class Boom(Exception):
        pass

    def change_that_fails():
        with transaction.atomic():
            audit_record(action="audit.test.happened", actor=world.sue, organisation=world.org)
            raise Boom

    with pytest.raises(Boom):
        change_that_fails()
    assert AuditEvent.objects.count() == before
    assert AuditChain.objects.get(chain_key=world.org.pk).last_seq == head_before
    assert _chain(world).ok


def test_it_refuses_an_action_without_namespace(world):
    with pytest.raises(ValueError, match="app"):
        audit_record(action="happened", actor=None, organisation=world.org)


def test_organisations_have_separate_chains(world):
    audit_record(action="audit.test.happened", actor=world.ola, organisation=world.rival)
    keys = {r.chain_key for r in audit_verify()}
    assert {world.org.pk, world.rival.pk} <= keys


def test_it_detects_a_deleted_chain_head(world):
    _events(world)
    _raw("DELETE FROM audit_auditchain WHERE chain_key = %s", [world.org.pk])
    report = next(r for r in audit_verify() if r.chain_key == world.org.pk)
    assert any("head row is missing" in p for p in report.problems)


def test_it_refuses_an_unknown_app_namespace(world):
    with pytest.raises(ValueError, match="app label"):
        audit_record(action="nonsense.thing.happened", actor=None, organisation=world.org)


def test_a_chain_rewritten_without_the_key_does_not_verify(world, settings):
    """Edit a row, then recompute the whole chain consistently but with another key (as an
    attacker who can write the tables but lacks RECOUP_BLIND_INDEX_KEY would): detected."""
    from recoup.audit.hashing import event_hash

    _events(world, 3)
    victim = AuditEvent.objects.filter(chain_key=world.org.pk).order_by("seq")[1]
    _raw("UPDATE audit_auditevent SET data = %s WHERE id = %s", ['{"i": 42}', victim.pk])
    real_key = settings.RECOUP_BLIND_INDEX_KEY
    settings.RECOUP_BLIND_INDEX_KEY = b"attacker-guess-attacker-guess-32"
    prev = "0" * 64
    for ev in AuditEvent.objects.filter(chain_key=world.org.pk).order_by("seq"):
        digest = event_hash(
            prev_hash=prev,
            chain_key=ev.chain_key,
            seq=ev.seq,
            occurred_at=ev.occurred_at,
            actor_id=ev.actor_id,
            actor_kind=ev.actor_kind,
            actor_label=ev.actor_label,
            action=ev.action,
            case_id=ev.case_id,
            debtor_id=ev.debtor_id,
            object_type=ev.object_type,
            object_id=ev.object_id,
            data=ev.data,
            ip=ev.ip,
            request_id=ev.request_id,
        )
        _raw(
            "UPDATE audit_auditevent SET prev_hash = %s, hash = %s WHERE id = %s",
            [prev, digest, ev.pk],
        )
        prev = digest
    _raw("UPDATE audit_auditchain SET last_hash = %s WHERE chain_key = %s", [prev, world.org.pk])
    assert _chain(world).ok  # consistent under the attacker's key…
    settings.RECOUP_BLIND_INDEX_KEY = real_key
    report = _chain(world)
    assert not report.ok  # …but not under the real one
    assert any("edited" in p for p in report.problems)
