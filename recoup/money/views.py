"""Payment screens: the list and queue of payments to resolve, manual entry with evidence,
one payment with its match, reject and reverse actions. Thin adapters over the services."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Q, QuerySet
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from recoup.accounts.models import User
from recoup.cases import selectors as case_selectors
from recoup.cases.models import Case
from recoup.core.exceptions import NotFound, PermissionDenied, RecoupError, ValidationError
from recoup.money import selectors, services
from recoup.money.forms import ManualPaymentForm, MatchForm, PaymentFilterForm, ReasonForm
from recoup.money.models import Payment

PAGE_SIZE = 50


def _user(request: HttpRequest) -> User:
    assert isinstance(request.user, User)
    return request.user


def _forbidden(request: HttpRequest, message: str) -> HttpResponse:
    return render(request, "403.html", {"message": message}, status=403)


def requested_case(request: HttpRequest) -> Case:
    """The case named by ``?case=`` (or the form's ``case``), if the person may see it."""
    case_id = request.GET.get("case") or request.POST.get("case") or ""
    if not case_id.isdigit():
        raise Http404(_("案件不存在。"))
    try:
        return case_selectors.case_get_for_user(_user(request), int(case_id))
    except NotFound as exc:
        raise Http404(exc.message) from exc


def status_page(
    request: HttpRequest,
    qs: QuerySet[Any],
    choices: list[tuple[str, Any]],
    default: str,
    newest_first: str,
    template: str,
) -> HttpResponse:
    """A list of plans or reductions by status (one tab per status), newest first."""
    status = request.GET.get("status", default)
    if status in dict(choices):
        qs = qs.filter(status=status)
    page = Paginator(qs.order_by(newest_first), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, template, {"page": page, "status": status, "statuses": choices})


def _payment(request: HttpRequest, payment_id: int) -> Payment:
    try:
        return selectors.payment_get(_user(request), payment_id)
    except NotFound as exc:
        raise Http404(exc.message) from exc


@require_GET
@login_required
def payment_list(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    if not services.can_handle_payments(user):
        return _forbidden(request, _("您无权处理还款。"))
    form = PaymentFilterForm(request.GET or None)
    qs = selectors.payments_for(user)
    totals = selectors.payment_summary(qs)
    summary = [
        (
            value,
            label,
            totals.get(value, {}).get("count", 0),
            totals.get(value, {}).get("amount") or 0,
        )
        for value, label in Payment.Status.choices
        if value != Payment.Status.PENDING
    ]
    if form.is_valid():
        status = form.cleaned_data["status"]
        if status == "open":
            qs = qs.filter(status__in=Payment.OPEN_STATES)
        elif status:
            qs = qs.filter(status=status)
        if q := form.cleaned_data["q"].strip():
            qs = qs.filter(Q(transaction_id=q) | Q(client_case_number=q))
        if form.cleaned_data["paid_from"]:
            qs = qs.filter(paid_on__gte=form.cleaned_data["paid_from"])
        if form.cleaned_data["paid_to"]:
            qs = qs.filter(paid_on__lte=form.cleaned_data["paid_to"])
    page = Paginator(qs.order_by("-paid_on", "-id"), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "money/payment_list.html",
        {"form": form, "page": page, "summary": summary},
    )


@require_http_methods(["GET", "POST"])
@login_required
def payment_new(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    if not services.can_handle_payments(user):
        return _forbidden(request, _("您无权处理还款。"))
    case = None
    case_id = request.GET.get("case") or request.POST.get("case")
    if case_id and str(case_id).isdigit():
        try:
            case = selectors.payable_case(user, int(case_id))
        except NotFound as exc:
            raise Http404(exc.message) from exc
    initial: dict[str, Any] = {"case_number": case.client_case_number} if case else {}
    form = ManualPaymentForm(request.POST or None, request.FILES or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            if case is None or case.client_case_number != data["case_number"].strip():
                case = selectors.payable_case_by_number(user, data["case_number"])
            upload = data["evidence"]
            payment = services.payment_record(
                actor=user,
                case=case,
                data=services.ManualPayment(
                    transaction_id=data["transaction_id"],
                    amount=data["amount"],
                    paid_on=data["paid_on"],
                    channel=data["channel"],
                    note=data["note"],
                ),
                evidence=services.Evidence(upload.name, upload),
            )
        except NotFound as exc:
            form.add_error("case_number", exc.message)
        except PermissionDenied as exc:
            return _forbidden(request, exc.message)
        except ValidationError as exc:
            field = exc.field if exc.field in form.fields else None
            form.add_error(field, exc.message)
        else:
            messages.success(
                request,
                _("还款 %(txn)s 已入账，案件余额 %(balance)s。")
                % {
                    "txn": payment.transaction_id,
                    "balance": payment.case.total_owed if payment.case else "",
                },
            )
            return redirect("money:payment-detail", payment_id=payment.pk)
    return render(request, "money/payment_new.html", {"form": form, "case": case})


@require_GET
@login_required
def payment_detail(request: HttpRequest, payment_id: int) -> HttpResponse:
    payment = _payment(request, payment_id)
    return render(
        request,
        "money/payment_detail.html",
        {
            "p": payment,
            "match_form": MatchForm(initial={"case_number": payment.client_case_number}),
            "reason_form": ReasonForm(),
        },
    )


@require_GET
@login_required
def payment_evidence(request: HttpRequest, payment_id: int) -> FileResponse:
    payment = _payment(request, payment_id)
    if not payment.evidence:
        raise Http404(_("这笔还款没有凭证。"))
    return FileResponse(
        services.payment_evidence_open(actor=_user(request), payment=payment), as_attachment=True
    )


def _act(request: HttpRequest, payment: Payment, action: Any, ok: str) -> HttpResponse:
    try:
        action()
    except PermissionDenied as exc:
        return _forbidden(request, exc.message)
    except (NotFound, RecoupError) as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, ok)
    return redirect("money:payment-detail", payment_id=payment.pk)


@require_POST
@login_required
def payment_match(request: HttpRequest, payment_id: int) -> HttpResponse:
    user = _user(request)
    payment = _payment(request, payment_id)
    form = MatchForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("请填写委托方案件号。"))
        return redirect("money:payment-detail", payment_id=payment.pk)

    def match() -> None:
        case = selectors.payable_case_by_number(
            user, form.cleaned_data["case_number"], contract_id=payment.contract_id
        )
        services.payment_match(
            actor=user, payment=payment, case=case, note=form.cleaned_data["note"]
        )

    return _act(request, payment, match, _("已匹配并入账。"))


@require_POST
@login_required
def payment_reject(request: HttpRequest, payment_id: int) -> HttpResponse:
    user = _user(request)
    payment = _payment(request, payment_id)
    reason = request.POST.get("reason", "")
    return _act(
        request,
        payment,
        lambda: services.payment_reject(actor=user, payment=payment, reason=reason),
        _("已驳回。"),
    )


@require_POST
@login_required
def payment_reverse(request: HttpRequest, payment_id: int) -> HttpResponse:
    user = _user(request)
    payment = _payment(request, payment_id)
    reason = request.POST.get("reason", "")
    return _act(
        request,
        payment,
        lambda: services.payment_reverse(actor=user, payment=payment, reason=reason),
        _("已冲正，案件余额已恢复。"),
    )
