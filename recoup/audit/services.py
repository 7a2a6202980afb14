"""Writing audit events: the only way rows enter ``AuditEvent``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.apps import apps
from django.db import transaction

from recoup.audit import context
from recoup.audit.hashing import event_hash, normalise_data
from recoup.audit.models import AuditChain, AuditEvent
from recoup.core.clock import now

if TYPE_CHECKING:
    from recoup.accounts.models import Organisation, User


def audit_record(
    *,
    action: str,
    actor: User | None,
    organisation: Organisation | int | None,
    actor_kind: str | None = None,
    case_id: int | None = None,
    debtor_id: int | None = None,
    object_type: str = "",
    object_id: str | int = "",
    data: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one event to the organisation's hash chain, in the caller's transaction.

    Must run inside ``transaction.atomic()`` (it opens one if the caller did not) so the event
    commits or rolls back with the change it describes. The chain head row is locked
    (``select_for_update``; on SQLite the IMMEDIATE transaction already serialises writers),
    so concurrent writers queue rather than fork the chain.
    """
    namespace = action.split(".", 1)[0]
    if action.count(".") < 2 or namespace not in apps.app_configs:
        raise ValueError(
            f"audit action must be '<app label>.<entity>.<past tense>', got {action!r}"
        )
    org_id = (
        organisation if isinstance(organisation, int) or organisation is None else organisation.pk
    )
    chain_key = org_id or 0
    ctx = context.current()
    if actor_kind is None:
        if actor is None:
            actor_kind = AuditEvent.ActorKind.SYSTEM
        elif getattr(actor, "token_role_codes", None) is not None:
            actor_kind = AuditEvent.ActorKind.API
        else:
            actor_kind = AuditEvent.ActorKind.USER
    payload = normalise_data(data or {})
    with transaction.atomic():
        AuditChain.objects.bulk_create([AuditChain(chain_key=chain_key)], ignore_conflicts=True)
        head = AuditChain.objects.select_for_update().get(chain_key=chain_key)
        seq = head.last_seq + 1
        occurred_at = now()
        fields: dict[str, Any] = {
            "chain_key": chain_key,
            "seq": seq,
            "occurred_at": occurred_at,
            "actor_id": actor.pk if actor else None,
            "actor_kind": str(actor_kind),
            "actor_label": actor.get_username() if actor else "",
            "action": action,
            "case_id": case_id,
            "debtor_id": debtor_id,
            "object_type": object_type,
            "object_id": str(object_id),
            "data": payload,
            "ip": ctx.ip,
            "request_id": ctx.request_id,
        }
        digest = event_hash(prev_hash=head.last_hash, **fields)
        event = AuditEvent(organisation_id=org_id, prev_hash=head.last_hash, hash=digest, **fields)
        event.save()
        head.last_seq, head.last_hash = seq, digest
        head.save(update_fields=["last_seq", "last_hash"])
    return event
