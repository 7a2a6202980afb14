"""Case list and case page (HTML + HTMX fragments). Thin adapters over selectors/services."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from recoup.accounts.models import User
from recoup.cases import selectors, services
from recoup.cases.forms import CaseFilterForm, HoldForm
from recoup.cases.panels import case_panels_for
from recoup.clients.selectors import batches_for_user, clients_for_user
from recoup.core.exceptions import NotFound, PermissionDenied, RecoupError

PAGE_SIZE = 50


def _user(request: HttpRequest) -> User:
    assert isinstance(request.user, User)
    return request.user


def _forbidden(request: HttpRequest, exc: PermissionDenied) -> HttpResponse:
    return render(request, "403.html", {"message": exc.message}, status=403)


def _load(request: HttpRequest, case_id: int, action: str = "view") -> Any:
    try:
        return selectors.case_get_for_user(_user(request), case_id, action)
    except NotFound as exc:
        raise Http404(exc.message) from exc


@require_GET
@login_required
def case_list(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    form = CaseFilterForm(request.GET or None)
    cleaned = form.cleaned_data if form.is_valid() else {}
    filters = selectors.CaseFilters(
        q=cleaned.get("q") or "",
        status=cleaned.get("status") or "",
        stage=cleaned.get("stage") or "",
        client=cleaned.get("client"),
        batch=cleaned.get("batch"),
        assignee=cleaned.get("assignee"),
    )
    qs = selectors.case_list_for_user(user, filters)
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    rows = [(case, selectors.case_masked_summary(case)) for case in page.object_list]
    query = request.GET.copy()
    query.pop("page", None)
    services.case_list_record_view(actor=user, case_ids=[c.pk for c, _ in rows], filters=filters)
    context = {
        "form": form,
        "page": page,
        "rows": rows,
        "clients": clients_for_user(user),
        "batches": batches_for_user(user),
        "query": query.urlencode(),
    }
    template = "cases/case_list.html#case-table" if request.htmx else "cases/case_list.html"  # type: ignore[attr-defined]
    return render(request, template, context)


def _detail_context(request: HttpRequest, case_id: int) -> dict[str, Any]:
    user = _user(request)
    case = _load(request, case_id)
    detail = selectors.case_detail_for_user(user, case)
    services.case_record_view(case=case, actor=user, fields=["name", "id_number", "contacts"])
    return {
        "d": detail,
        "case": case,
        "hold_form": HoldForm(),
        "panels": case_panels_for(user, case),
    }


@require_GET
@login_required
def case_detail(request: HttpRequest, case_id: int) -> HttpResponse:
    return render(request, "cases/case_detail.html", _detail_context(request, case_id))


@require_POST
@login_required
def contact_unmask(request: HttpRequest, case_id: int, contact_id: int) -> HttpResponse:
    user = _user(request)
    case = _load(request, case_id)
    try:
        contact = selectors.contact_get_for_case(case, contact_id)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    try:
        value = services.contact_unmask(case=case, contact=contact, actor=user)
    except PermissionDenied as exc:
        return _forbidden(request, exc)
    return render(
        request, "cases/case_detail.html#contact-value", {"shown": value, "cid": contact.pk}
    )


@require_POST
@login_required
def debtor_unmask(request: HttpRequest, case_id: int) -> HttpResponse:
    user = _user(request)
    case = _load(request, case_id)
    try:
        data = services.debtor_unmask(case=case, actor=user)
    except PermissionDenied as exc:
        return _forbidden(request, exc)
    return render(request, "cases/case_detail.html#debtor-unmasked", {"full": data})


@require_POST
@login_required
def custom_reveal(request: HttpRequest, case_id: int) -> HttpResponse:
    user = _user(request)
    case = _load(request, case_id)
    try:
        fields = services.case_custom_reveal(case=case, actor=user)
    except PermissionDenied as exc:
        return _forbidden(request, exc)
    return render(
        request, "cases/case_detail.html#custom-fields", {"custom": fields, "revealed": True}
    )


@require_POST
@login_required
def case_hold(request: HttpRequest, case_id: int) -> HttpResponse:
    user = _user(request)
    case = _load(request, case_id)
    form = HoldForm(request.POST)
    if form.is_valid():
        try:
            services.case_put_on_hold(
                case=case,
                reason=form.cleaned_data["reason"],
                note=form.cleaned_data["note"] or "",
                expires_at=form.cleaned_data["expires_at"],
                actor=user,
            )
        except PermissionDenied as exc:
            return _forbidden(request, exc)
        except RecoupError as exc:
            form.add_error(None, exc.message)
    if form.errors:
        context = _detail_context(request, case_id)
        context["hold_form"] = form
        return render(request, "cases/case_detail.html", context, status=400)
    return redirect("cases:case-detail", case_id=case.pk)


@require_POST
@login_required
def case_hold_release(request: HttpRequest, case_id: int, hold_id: int) -> HttpResponse:
    user = _user(request)
    case = _load(request, case_id)
    try:
        hold = selectors.hold_get_for_case(case, hold_id)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    try:
        services.case_release_hold(hold=hold, actor=user)
    except PermissionDenied as exc:
        return _forbidden(request, exc)
    except RecoupError:
        pass  # already released: the page shows the current state
    return redirect("cases:case-detail", case_id=case.pk)
