"""Reads of clients and batches for filters and screens."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db.models import QuerySet
from django.utils.translation import gettext as _

from recoup.accounts.models import Role
from recoup.clients.models import Batch, Client, ClientUser, Contract
from recoup.core.exceptions import NotFound

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


CONTRACT_READERS = (
    Role.Code.SYSTEM_ADMIN,
    Role.Code.HQ,
    Role.Code.BRANCH_MANAGER,
    Role.Code.SUPERVISOR,
    Role.Code.ADMIN_ASSISTANT,
    Role.Code.RISK_OFFICER,
    Role.Code.CLIENT_USER,
)


def contracts_for_user(user: User) -> QuerySet[Contract]:
    """Contracts a person may read: staff of the agency all, a client user their own."""
    if not user.has_role(*CONTRACT_READERS) or user.organisation_id is None:
        return Contract.objects.none()
    return (
        Contract.objects.for_org(user.organisation_id)
        .filter(client__in=clients_for_user(user))
        .select_related("client")
        .order_by("client__name", "number")
    )


def contract_get_for_user(user: User, contract_id: int) -> Contract:
    contract = contracts_for_user(user).filter(pk=contract_id).first()
    if contract is None:
        raise NotFound(_("合作协议不存在。"))
    return contract


def client_get_for_user(user: User, client_id: int) -> Client:
    client = clients_for_user(user).filter(pk=client_id).first()
    if client is None:
        raise NotFound(_("委托方不存在。"))
    return client


def portal_users_for_admin(user: User) -> QuerySet[User]:
    """Client-user logins of the agency with the client each may read (admin screen)."""
    from recoup.accounts.models import User as UserModel

    return (
        UserModel.objects.filter(
            organisation_id=user.organisation_id or 0, roles__code=Role.Code.CLIENT_USER
        )
        .select_related("client_link__client")
        .order_by("username")
        .distinct()
    )


def person_get_for_admin(user: User, person_id: int) -> User:
    from recoup.accounts.models import User as UserModel

    person = UserModel.objects.filter(
        organisation_id=user.organisation_id or 0, pk=person_id
    ).first()
    if person is None:
        raise NotFound(_("人员不存在。"))
    return person
