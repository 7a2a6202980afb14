"""Clients and contracts screens: read for managers and liaison staff, edit for admins."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from recoup.accounts.models import User
from recoup.clients import selectors, services
from recoup.clients.forms import ClientForm, ContractForm, PortalLinkForm
from recoup.core.exceptions import NotFound, PermissionDenied, RecoupError

CONTRACT_FIELDS = [
    "number",
    "name",
    "starts_on",
    "ends_on",
    "case_period_days",
    "review_every_days",
    "sla_profile",
    "compliance_profile",
    "retention_years",
    "recording_retention_years",
    "reconciliation_day",
    "import_error_policy",
    "commission_table",
]


def _user(request: HttpRequest) -> User:
    assert isinstance(request.user, User)
    return request.user


def _contract_input(cd: dict[str, Any]) -> services.ContractInput:
    return services.ContractInput(
        **{k: cd[k] for k in CONTRACT_FIELDS if k in cd}
        | {"commission_table": cd.get("commission_table") or {}}
    )


def _forbidden(request: HttpRequest, exc: PermissionDenied) -> HttpResponse:
    return render(request, "403.html", {"message": exc.message}, status=403)


@require_GET
@login_required
def contract_list(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    if not user.has_role(*selectors.CONTRACT_READERS):
        return render(request, "403.html", status=403)
    can_manage = user.has_role(*services.CONTRACT_ADMINS)
    portal_users = list(selectors.portal_users_for_admin(user)) if can_manage else []
    link_form = PortalLinkForm(
        people=[p for p in portal_users if not hasattr(p, "client_link")],
        clients=selectors.clients_for_user(user),
    )
    return render(
        request,
        "clients/contract_list.html",
        {
            "contracts": selectors.contracts_for_user(user),
            "clients": selectors.clients_for_user(user),
            "can_manage": can_manage,
            "portal_users": portal_users,
            "link_form": link_form,
        },
    )


@require_POST
@login_required
def portal_link_view(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    if not user.has_role(*services.CONTRACT_ADMINS):
        return render(request, "403.html", status=403)
    portal_users = selectors.portal_users_for_admin(user)
    form = PortalLinkForm(
        request.POST, people=portal_users, clients=selectors.clients_for_user(user)
    )
    if form.is_valid():
        try:
            person = selectors.person_get_for_admin(user, form.cleaned_data["person"])
            client = selectors.client_get_for_user(user, form.cleaned_data["client"])
            services.client_user_link(person=person, client=client, actor=user)
        except (NotFound, RecoupError) as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, _("已关联。"))
    else:
        messages.error(request, _("请选择账号和委托方。"))
    return redirect("clients:contract-list")


@require_http_methods(["GET", "POST"])
@login_required
def client_create_view(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    if not user.has_role(*services.CONTRACT_ADMINS):
        return render(request, "403.html", status=403)
    form = ClientForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            client = services.client_create(actor=user, **form.cleaned_data)
        except RecoupError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, _("已创建委托方 %(name)s。") % {"name": client.name})
            return redirect("clients:contract-list")
    return render(
        request,
        "clients/form.html",
        {"form": form, "title": _("新增委托方")},
        status=400 if form.errors else 200,
    )


@require_http_methods(["GET", "POST"])
@login_required
def contract_create_view(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    if not user.has_role(*services.CONTRACT_ADMINS):
        return render(request, "403.html", status=403)
    form = ContractForm(request.POST or None, clients=selectors.clients_for_user(user))
    if request.method == "POST" and form.is_valid():
        try:
            client = selectors.client_get_for_user(user, form.cleaned_data["client"])
            contract = services.contract_create(
                client=client, data=_contract_input(form.cleaned_data), actor=user
            )
        except (NotFound, RecoupError) as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(
                request, _("已创建合作协议 %(number)s。") % {"number": contract.number}
            )
            return redirect("clients:contract-detail", contract_id=contract.pk)
    return render(
        request,
        "clients/form.html",
        {"form": form, "title": _("新增合作协议")},
        status=400 if form.errors else 200,
    )


@require_http_methods(["GET", "POST"])
@login_required
def contract_detail(request: HttpRequest, contract_id: int) -> HttpResponse:
    user = _user(request)
    try:
        contract = selectors.contract_get_for_user(user, contract_id)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    can_manage = user.has_role(*services.CONTRACT_ADMINS)
    initial = {k: getattr(contract, k) for k in CONTRACT_FIELDS} | {"client": contract.client_id}
    form = ContractForm(
        request.POST or None, initial=initial, clients=[contract.client], editing=True
    )
    if request.method == "POST":
        if not can_manage:
            return render(request, "403.html", status=403)
        if form.is_valid():
            data = _contract_input(form.cleaned_data | {"number": contract.number})
            try:
                services.contract_update(contract=contract, data=data, actor=user)
            except PermissionDenied as exc:
                return _forbidden(request, exc)
            except RecoupError as exc:
                form.add_error(None, exc.message)
            else:
                messages.success(request, _("已保存。"))
                return redirect("clients:contract-detail", contract_id=contract.pk)
    return render(
        request,
        "clients/contract_detail.html",
        {"contract": contract, "form": form, "can_manage": can_manage},
        status=400 if form.errors else 200,
    )
