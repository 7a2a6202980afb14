"""The append-only, hash-chained audit log (SPEC §7; STYLE §4.6).

Each ``AuditEvent`` belongs to a chain (one per organisation; chain 0 holds events with no
organisation, such as a failed login for an unknown username). Within a chain events carry a
gap-free ``seq`` and ``hash = SHA-256(prev_hash + canonical(event))``; ``AuditChain`` holds
the head (last seq and hash). Editing a row breaks its hash, inserting or deleting one breaks
the sequence or the link to the previous hash, deleting the tail disagrees with the head.
``manage.py audit_verify`` walks the chains and reports the first break.

Worked example: a collector opens a case page →
``AuditEvent(organisation=agency, actor=ada, actor_kind="user", action="cases.case.viewed",
case=<case 42>, data={"fields": ["name", "phones"]}, ip="10.0.0.7", request_id="…")``.
Unmasking a phone → ``action="cases.contact.unmasked"`` with the contact point in
``object_type``/``object_id``. A lockout → ``action="accounts.user.locked_out"``.

Rows are written only through ``recoup.audit.services.audit_record`` inside the caller's
transaction, so an event exists exactly when its change committed.
"""

from __future__ import annotations

from typing import Any, NoReturn

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models


class AppendOnlyError(Exception):
    pass


class AuditQuerySet(models.QuerySet["AuditEvent"]):
    def update(self, **kwargs: Any) -> NoReturn:
        raise AppendOnlyError("audit events are append-only")

    def delete(self) -> NoReturn:
        raise AppendOnlyError("audit events are append-only")


class AuditChain(models.Model):
    """Head of one hash chain; locked while an event is appended to serialise the chain."""

    chain_key = models.BigIntegerField(unique=True)  # organisation id, or 0 for no organisation
    last_seq = models.BigIntegerField(default=0)
    last_hash = models.CharField(max_length=64, default="0" * 64)

    class Meta:
        ordering = ["chain_key"]

    def __str__(self) -> str:
        return f"chain {self.chain_key} @ {self.last_seq}"


class AuditEvent(models.Model):
    class ActorKind(models.TextChoices):
        USER = "user", "user"  # a person in the UI
        API = "api", "api"  # a system client through an API token
        SYSTEM = "system", "system"  # a scheduled job or management command
        IMPORT = "import", "import"  # the intake pipeline

    chain_key = models.BigIntegerField()
    seq = models.BigIntegerField()
    organisation = models.ForeignKey(
        "accounts.Organisation", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    occurred_at = models.DateTimeField(db_index=True)
    actor = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    actor_kind = models.CharField(max_length=10, choices=ActorKind.choices)
    actor_label = models.CharField(max_length=150, blank=True)  # username at the time
    action = models.CharField(max_length=100)
    # Subjects. No database constraint: a purge after the retention period removes cases but
    # keeps their audit trail (SPEC §7 purge record).
    case = models.ForeignKey(
        "cases.Case",
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    debtor = models.ForeignKey(
        "cases.Debtor",
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    object_type = models.CharField(max_length=60, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    data = models.JSONField(default=dict, encoder=DjangoJSONEncoder)
    ip = models.GenericIPAddressField(null=True, blank=True)
    request_id = models.CharField(max_length=64, blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)

    objects = AuditQuerySet.as_manager()

    class Meta:
        ordering = ["chain_key", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["chain_key", "seq"], name="audit_chain_seq_unique")
        ]
        indexes = [
            models.Index(fields=["organisation", "action", "occurred_at"], name="audit_org_action"),
            models.Index(fields=["case", "occurred_at"], name="audit_case_time"),
            models.Index(fields=["actor", "occurred_at"], name="audit_actor_time"),
        ]

    def __str__(self) -> str:
        return f"{self.occurred_at:%Y-%m-%d %H:%M:%S} {self.action}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise AppendOnlyError("audit events are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise AppendOnlyError("audit events are append-only")
