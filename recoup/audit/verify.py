"""Verifying the audit hash chains (``manage.py audit_verify``)."""

from __future__ import annotations

from dataclasses import dataclass, field

from recoup.audit.hashing import event_hash
from recoup.audit.models import AuditChain, AuditEvent


@dataclass
class ChainReport:
    chain_key: int
    events: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def audit_verify(*, chain_key: int | None = None) -> list[ChainReport]:
    """Recompute every chain; report edited, inserted, deleted or reordered events."""
    heads = AuditChain.objects.all()
    if chain_key is not None:
        heads = heads.filter(chain_key=chain_key)
    reports: list[ChainReport] = []
    # Events whose chain head row is gone: deleting a head must not hide its chain.
    events = (
        AuditEvent.objects.all()
        if chain_key is None
        else AuditEvent.objects.filter(chain_key=chain_key)
    )
    headless = set(events.order_by().values_list("chain_key", flat=True).distinct()) - set(
        heads.values_list("chain_key", flat=True)
    )
    for key in sorted(headless):
        reports.append(ChainReport(chain_key=key, problems=["chain head row is missing (deleted)"]))
    for head in heads:
        report = ChainReport(chain_key=head.chain_key)
        prev_hash, expected_seq = "0" * 64, 1
        rows = AuditEvent.objects.filter(chain_key=head.chain_key).order_by("seq")
        for ev in rows.iterator(chunk_size=5000):
            report.events += 1
            if ev.seq != expected_seq:
                report.problems.append(
                    f"seq {ev.seq}: expected seq {expected_seq} (a row was deleted or inserted)"
                )
            if ev.prev_hash != prev_hash:
                report.problems.append(f"seq {ev.seq}: link to the previous event is broken")
            digest = event_hash(
                prev_hash=ev.prev_hash,
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
            if digest != ev.hash:
                report.problems.append(f"seq {ev.seq}: content does not match its hash (edited)")
            prev_hash, expected_seq = ev.hash, ev.seq + 1
            if len(report.problems) >= 20:
                report.problems.append("… stopping after 20 problems")
                break
        else:
            if head.last_seq != expected_seq - 1 or head.last_hash != prev_hash:
                report.problems.append(
                    f"chain head says seq {head.last_seq} but the log ends at {expected_seq - 1} "
                    "(events at the end were deleted)"
                )
        reports.append(report)
    return reports
