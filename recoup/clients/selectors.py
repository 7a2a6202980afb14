"""Reads of clients and batches for filters and screens."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db.models import QuerySet

from recoup.accounts.models import Role
from recoup.clients.models import Batch, Client, ClientUser

if TYPE_CHECKING:
    from recoup.accounts.models import User


def _client_scope(user: User) -> int | None:
    return ClientUser.objects.filter(user_id=user.pk).values_list("client_id", flat=True).first()


def clients_for_user(user: User) -> QuerySet[Client]:
    """Clients a person may filter by: a client user only their own; staff their agency's."""
    if user.organisation_id is None:
        return Client.objects.none()
    qs = Client.objects.for_org(user.organisation_id)
    if user.has_role(Role.Code.CLIENT_USER):
        client_id = _client_scope(user)
        return qs.filter(pk=client_id) if client_id else qs.none()
    return qs.order_by("name")


def batches_for_user(user: User) -> QuerySet[Batch]:
    return (
        Batch.objects.for_org(user.organisation_id or 0)
        .filter(contract__client__in=clients_for_user(user))
        .select_related("contract")
        .order_by("-received_at")
    )
