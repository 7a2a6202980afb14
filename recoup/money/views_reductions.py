"""Reduction screens: request (with the matrix limit shown), the queue, one reduction with the
step its status allows, and the client's authority matrix (HQ and system administrators)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from recoup.accounts.roles import WORK
from recoup.cases.permissions import user_can
from recoup.clients.selectors import clients_for_user
from recoup.core.exceptions import NotFound, PermissionDenied, RecoupError, ValidationError
from recoup.money import reductions, selectors
from recoup.money.forms import AuthorityForm, ReductionForm
from recoup.money.models import Reduction
from recoup.money.views import _forbidden, _user, requested_case, status_page


def _reduction(request: HttpRequest, reduction_id: int) -> Reduction:
    try:
        return selectors.reduction_get(_user(request), reduction_id)
    except NotFound as exc:
        raise Http404(exc.message) from exc


@require_GET
@login_required
def reduction_list(request: HttpRequest) -> HttpResponse:
    return status_page(
        request,
        selectors.reductions_for(_user(request)),
        Reduction.Status.choices,
        "requested",
        "-requested_at",
        "money/reduction_list.html",
    )


@require_http_methods(["GET", "POST"])
@login_required
def reduction_new(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    case = requested_case(request)
    if not user_can(user, WORK, case):
        return _forbidden(request, _("您无权为该案件申请减免。"))
    form = ReductionForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        upload = data["evidence"]
        try:
            red = reductions.reduction_request(
                actor=user,
                case=case,
                waived=data["waived"],
                pay_by=data["pay_by"],
                reason=data["reason"],
                evidence_name=upload.name,
                evidence=upload,
            )
        except PermissionDenied as exc:
            return _forbidden(request, exc.message)
        except ValidationError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        else:
            messages.success(request, _("减免申请已提交主管审批。"))
            return redirect("money:reduction-detail", reduction_id=red.pk)
    return render(
        request,
        "money/reduction_new.html",
        {"form": form, "case": case, "limit": reductions.authority_for(case)},
    )


@require_GET
@login_required
def reduction_detail(request: HttpRequest, reduction_id: int) -> HttpResponse:
    red = _reduction(request, reduction_id)
    user = _user(request)
    return render(
        request,
        "money/reduction_detail.html",
        {
            "r": red,
            "can_approve": bool(user.role_codes & reductions.APPROVER_ROLES)
            and red.requested_by_id != user.pk,
            "paid_since": reductions.paid_since(red),
        },
    )


@require_POST
@login_required
def reduction_step(request: HttpRequest, reduction_id: int, step: str) -> HttpResponse:
    user = _user(request)
    red = _reduction(request, reduction_id)
    post = request.POST
    try:
        if step == "approve":
            red = reductions.reduction_approve(actor=user, reduction=red)
            done = (
                _("已批准：超出授权，等待委托方审批。")
                if red.status == "client"
                else _("已批准：还足须还金额后生效。")
            )
        elif step == "reject":
            reductions.reduction_reject(actor=user, reduction=red, reason=post.get("reason", ""))
            done = _("已驳回。")
        elif step == "withdraw":
            reductions.reduction_withdraw(actor=user, reduction=red, reason=post.get("reason", ""))
            done = _("已撤回。")
        elif step == "client":
            upload = request.FILES.get("evidence")
            reductions.reduction_client_approve(
                actor=user,
                reduction=red,
                reference=post.get("reference", ""),
                evidence_name=upload.name or "evidence" if upload else "",
                evidence=upload,
            )
            done = _("已登记委托方审批：还足须还金额后生效。")
        else:
            raise Http404(_("未知步骤。"))
    except PermissionDenied as exc:
        return _forbidden(request, exc.message)
    except RecoupError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, done)
    return redirect("money:reduction-detail", reduction_id=red.pk)


@require_GET
@login_required
def reduction_file(request: HttpRequest, reduction_id: int, which: str) -> FileResponse:
    red = _reduction(request, reduction_id)
    field = {"evidence": red.evidence, "client": red.client_evidence}.get(which)
    if not field:
        raise Http404(_("文件不存在。"))
    reductions.reduction_file_opened(actor=_user(request), reduction=red, which=which)
    return FileResponse(field.open("rb"), as_attachment=True)


@require_http_methods(["GET", "POST"])
@login_required
def authority(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    if user.organisation_id is None:
        raise Http404
    can_edit = bool(user.role_codes & reductions.MATRIX_KEEPERS)
    clients = clients_for_user(user)
    form = AuthorityForm(request.POST or None, clients=clients)
    if request.method == "POST":
        if not can_edit:
            return _forbidden(request, _("只有总公司或系统管理员可以维护减免授权。"))
        remove = request.POST.get("remove", "")
        try:
            if remove.isdigit():
                reductions.authority_remove(
                    actor=user, row=selectors.authority_row_get(user.organisation_id, int(remove))
                )
                messages.success(request, _("已删除授权规则。"))
                return redirect("money:authority")
            if form.is_valid():
                data = form.cleaned_data
                reductions.authority_set(
                    actor=user,
                    client=data["client"],
                    stage=data["stage"],
                    min_balance=data["min_balance"],
                    max_balance=data["max_balance"],
                    max_pct=data["max_pct"],
                )
                messages.success(request, _("已添加授权规则。"))
                return redirect("money:authority")
        except (ValidationError, NotFound) as exc:
            form.add_error(None, exc.message)
    return render(
        request,
        "money/authority.html",
        {
            "rows": selectors.authority_rows(user.organisation_id).filter(client__in=clients),
            "form": form,
            "can_edit": can_edit,
            "today": timezone.localdate(),
        },
    )
