"""The collector's workbench: the queue, the case workspace, dialling through the gate, logging.

Thin adapters over ``queue``, ``selectors``, ``gate`` and ``services``.
"""

from __future__ import annotations

import zoneinfo
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from recoup.accounts.models import User
from recoup.accounts.roles import WORK
from recoup.cases import pii
from recoup.cases import selectors as case_selectors
from recoup.cases import services as case_services
from recoup.cases.permissions import user_can
from recoup.clients.selectors import clients_for_user
from recoup.contact import selectors, services
from recoup.contact.forms import LogCallForm, QueueFilterForm, RepairForm, SaveViewForm
from recoup.contact.gate import ContactRequest, decide
from recoup.contact.models import OverdueReason, Result
from recoup.contact.panels import panels_for
from recoup.contact.queue import QueueFilters, daily_figures, my_queue
from recoup.core.clock import now
from recoup.core.exceptions import NotFound, PermissionDenied, RecoupError, ValidationError

PAGE_SIZE = 50


def _user(request: HttpRequest) -> User:
    assert isinstance(request.user, User)
    return request.user


def _case(request: HttpRequest, case_id: int) -> Any:
    try:
        case = case_selectors.case_get_for_user(_user(request), case_id)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    return case


def _filters(request: HttpRequest) -> tuple[QueueFilterForm, QueueFilters]:
    data = request.GET
    view_id = data.get("view")
    if view_id and view_id.isdigit():
        try:
            data = selectors.saved_view_get(_user(request), int(view_id)).filters
        except NotFound:
            data = request.GET
    form = QueueFilterForm(data or None)
    cleaned = form.cleaned_data if form.is_valid() else {}
    return form, QueueFilters(
        q=cleaned.get("q") or "",
        stage=cleaned.get("stage") or "",
        only=cleaned.get("only") or "",
    )


@require_GET
@login_required
def queue(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    form, filters = _filters(request)
    q = my_queue(user, filters)
    page = Paginator(q.rows, PAGE_SIZE).get_page(request.GET.get("page"))
    local = now().astimezone(zoneinfo.ZoneInfo(settings.TIME_ZONE))
    figures = daily_figures([user], local.date())[user.pk]
    start = selectors.day_start(local.date(), zoneinfo.ZoneInfo(settings.TIME_ZONE))
    unrecorded = selectors.unrecorded_grants([user], start).count()
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "form": form,
        "queue": q,
        "page": page,
        "figures": figures,
        "unrecorded": unrecorded,
        "saved_views": selectors.saved_views_for(user),
        "query": query.urlencode(),
        "save_form": SaveViewForm(),
    }
    template = "contact/queue.html#queue-table" if request.htmx else "contact/queue.html"  # type: ignore[attr-defined]
    return render(request, template, context)


@require_POST
@login_required
def view_save(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    form = SaveViewForm(request.POST)
    filters = {k: v for k in ("q", "stage", "only") if (v := request.POST.get(k, ""))}
    if form.is_valid():
        try:
            services.saved_view_save(user=user, name=form.cleaned_data["name"], filters=filters)
            messages.success(request, _("视图已保存。"))
        except ValidationError as exc:
            messages.error(request, exc.message)
    else:
        messages.error(request, _("请填写视图名称。"))
    return redirect(
        reverse("contact:queue") + "?" + "&".join(f"{k}={v}" for k, v in filters.items())
    )


@require_POST
@login_required
def view_delete(request: HttpRequest, view_id: int) -> HttpResponse:
    user = _user(request)
    try:
        services.saved_view_delete(user=user, view=selectors.saved_view_get(user, view_id))
    except NotFound as exc:
        raise Http404(exc.message) from exc
    return redirect("contact:queue")


def _workspace_context(request: HttpRequest, case_id: int) -> dict[str, Any]:
    user = _user(request)
    case = _case(request, case_id)
    detail = case_selectors.case_detail_for_user(user, case)
    case_services.case_record_view(case=case, actor=user, fields=["name", "contacts"])
    return {
        "case": case,
        "d": detail,
        "can_work": user_can(user, WORK, case),
        "promises": list(selectors.promises_for_case(case)),
        "attempts": selectors.attempts_for_case(case),
        "repairs": selectors.repairs_for_case(case),
        "repair_form": RepairForm(),
        "panels": panels_for(user, case) if user_can(user, WORK, case) else [],
        "overdue_reason_label": dict(OverdueReason.choices).get(case.overdue_reason, ""),
    }


def _masked(point: Any) -> str:
    return pii.mask_contact(point.kind, str(point.personal_data().get("value", "")))


@require_GET
@login_required
def workspace(request: HttpRequest, case_id: int) -> HttpResponse:
    return render(request, "contact/workspace.html", _workspace_context(request, case_id))


@require_POST
@login_required
def dial(request: HttpRequest, case_id: int, point_id: int) -> HttpResponse:
    """Ask the gate for a call to one contact point; the panel shows the log form or why not."""
    user = _user(request)
    case = _case(request, case_id)
    try:
        point = selectors.contact_point_for_case(case, point_id)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    decision = decide(
        ContactRequest(actor=user, case=case, channel="call", contact_point=point, mode="click")
    )
    context = {
        "case": case,
        "decision": decision,
        "point": point,
        "point_masked": _masked(point),
        "form": LogCallForm(),
        "record": decision.record,
    }
    return render(request, "contact/workspace.html#dial-panel", context)


@require_POST
@login_required
def log_call(request: HttpRequest, decision_uid: str) -> HttpResponse:
    user = _user(request)
    try:
        decision = selectors.decision_get_for_user(user, decision_uid)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    form = LogCallForm(request.POST)
    error = ""
    if form.is_valid():
        data = form.cleaned_data
        try:
            promise = services.parse_promise(data["promise_amount"], data["promise_due_on"])
            services.attempt_record(
                actor=user,
                decision=decision,
                data=services.AttemptInput(
                    result=data["result"],
                    notes=data["notes"] or "",
                    overdue_reason=data["overdue_reason"] or "",
                    next_follow_up_at=data["next_follow_up_at"],
                    promise=promise,
                    third_party_refused=data["third_party_refused"],
                ),
            )
        except ValidationError as exc:
            if exc.field and exc.field in form.fields:
                form.add_error(exc.field, exc.message)
            else:
                error = exc.message
        except RecoupError as exc:
            error = exc.message
    if form.errors or error:
        context = {
            "case": decision.case,
            "decision": None,
            "record": decision,
            "point": decision.contact_point,
            "point_masked": _masked(decision.contact_point) if decision.contact_point else "",
            "form": form,
            "error": error,
        }
        return render(request, "contact/workspace.html#dial-panel", context, status=400)
    messages.success(request, _("联系记录已保存。"))
    target = (
        reverse("contact:queue")
        if request.POST.get("next") == "queue"
        else reverse("contact:workspace", args=[decision.case_id])
    )
    if request.htmx:  # type: ignore[attr-defined]
        response = HttpResponse(status=204)
        response["HX-Redirect"] = target
        return response
    return redirect(target)


@require_POST
@login_required
def repair(request: HttpRequest, case_id: int) -> HttpResponse:
    user = _user(request)
    case = _case(request, case_id)
    form = RepairForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        new_contact = None
        if data["value"]:
            new_contact = services.NewContact(
                kind=data["kind"] or "phone",
                value=data["value"],
                role=data["role"] or "debtor",
                source=data["source"] or "",
                name=data["name"] or "",
            )
        try:
            services.repair_record(
                actor=user,
                case=case,
                outcome=data["outcome"],
                channel=data["channel"],
                note=data["note"] or "",
                new_contact=new_contact,
            )
            messages.success(request, _("信息修复已记录。"))
            return redirect("contact:workspace", case_id=case.pk)
        except PermissionDenied as exc:
            return render(request, "403.html", {"message": exc.message}, status=403)
        except ValidationError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
    context = _workspace_context(request, case_id)
    context["repair_form"] = form
    return render(request, "contact/workspace.html", context, status=400)


@require_POST
@login_required
def lost_contact(request: HttpRequest, case_id: int) -> HttpResponse:
    user = _user(request)
    case = _case(request, case_id)
    try:
        services.case_mark_lost_contact(actor=user, case=case, lost=request.POST.get("lost") == "1")
    except PermissionDenied as exc:
        return render(request, "403.html", {"message": exc.message}, status=403)
    return redirect("contact:workspace", case_id=case.pk)


@require_GET
@login_required
def team(request: HttpRequest) -> HttpResponse:
    """Daily attempts and effective calls against the targets, per collector (team leader)."""
    user = _user(request)
    if not user.has_role("team_leader", "supervisor", "branch_manager", "hq", "collector"):
        return render(request, "403.html", {"message": _("无权查看。")}, status=403)
    local = now().astimezone(zoneinfo.ZoneInfo(settings.TIME_ZONE))
    people = selectors.team_members(user)
    figures = daily_figures(people, local.date())
    rows = [(p, figures[p.pk]) for p in people]
    start = selectors.day_start(local.date(), zoneinfo.ZoneInfo(settings.TIME_ZONE))
    unrecorded = list(selectors.unrecorded_grants(people, start)[:200])
    return render(
        request,
        "contact/team.html",
        {"rows": rows, "day": local.date(), "unrecorded": unrecorded},
    )


@login_required
def result_codes(request: HttpRequest) -> HttpResponse:
    """A client's own result codes for Recoup's results (used in the client's reports)."""
    user = _user(request)
    clients = list(clients_for_user(user)) if user.has_role(*services.RESULT_CODE_EDITORS) else []
    if not clients:
        return render(request, "403.html", {"message": _("无权维护委托方结果代码。")}, status=403)
    raw = request.POST.get("client") or request.GET.get("client") or ""
    client = next((c for c in clients if str(c.pk) == raw), clients[0])
    if request.method == "POST":
        codes = {
            value: (request.POST.get(f"code-{value}", ""), request.POST.get(f"label-{value}", ""))
            for value, _label in Result.choices
        }
        try:
            services.client_result_codes_save(actor=user, client_id=client.pk, codes=codes)
            messages.success(request, _("结果代码已保存。"))
            return redirect(reverse("contact:result-codes") + f"?client={client.pk}")
        except (PermissionDenied, ValidationError) as exc:
            messages.error(request, exc.message)
    mapped = selectors.client_result_codes(client.organisation_id, client.pk)
    rows = [(value, label, mapped.get(value)) for value, label in Result.choices]
    return render(
        request,
        "contact/result_codes.html",
        {"clients": clients, "client": client, "rows": rows},
    )
