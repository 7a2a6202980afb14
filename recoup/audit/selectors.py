"""Reading the audit log for screens (a case's history)."""

from __future__ import annotations

from django.db.models import QuerySet

from recoup.audit.models import AuditEvent


def audit_events_for_case(
    *, organisation_id: int, case_id: int, limit: int = 200
) -> QuerySet[AuditEvent]:
    """A case's history, newest first. Callers must have checked the user may see the case."""
    return (
        AuditEvent.objects.filter(chain_key=organisation_id, case_id=case_id)
        .select_related("actor")
        .order_by("-seq")[:limit]
    )
