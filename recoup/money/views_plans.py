"""Repayment plan screens: the list of plans waiting on someone, proposing one (with the
schedule previewed against the rules), and one plan with the step its status allows."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError as FieldError
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from recoup.accounts.roles import WORK
from recoup.cases.permissions import user_can
from recoup.core.exceptions import NotFound, PermissionDenied, RecoupError, ValidationError
from recoup.money import plans, selectors
from recoup.money.forms import ConsentForm, PlanForm, SignForm
from recoup.money.models import RepaymentPlan
from recoup.money.views import _forbidden, _user, requested_case, status_page


def _plan(request: HttpRequest, plan_id: int) -> RepaymentPlan:
    try:
        return selectors.plan_get(_user(request), plan_id)
    except NotFound as exc:
        raise Http404(exc.message) from exc


@require_GET
@login_required
def plan_list(request: HttpRequest) -> HttpResponse:
    return status_page(
        request,
        selectors.plans_for(_user(request)),
        RepaymentPlan.Status.choices,
        "proposed",
        "-proposed_at",
        "money/plan_list.html",
    )


@require_http_methods(["GET", "POST"])
@login_required
def plan_new(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    case = requested_case(request)
    if not user_can(user, WORK, case):
        return _forbidden(request, _("您无权为该案件提出还款计划。"))
    rules = plans.rules_for(case)
    today = timezone.localdate()
    initial = {
        "total": f"{case.total_owed:.2f}",
        "first_amount": f"{(case.total_owed * (rules.first_min_pct + 5) / 100):.2f}",
        "first_due_on": today,
        "count": min(3, rules.max_months),
    }
    form = PlanForm(request.POST or None, initial=initial)
    schedule: list[plans.Instalment] = []
    problems: list[str] = []
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            schedule = plans.schedule_build(
                total=data["total"],
                count=data["count"],
                first_amount=data["first_amount"],
                first_due_on=data["first_due_on"],
            )
            problems = plans.check_schedule(
                case=case, total=data["total"], schedule=schedule, rules=rules, start=today
            )
            if request.POST.get("submit") == "propose" and not problems:
                plan = plans.plan_propose(
                    actor=user,
                    case=case,
                    total=data["total"],
                    schedule=schedule,
                    payer=data["payer"],
                    payer_name=data["payer_name"],
                    note=data["note"],
                )
                messages.success(request, _("还款计划已提交主管审批。"))
                return redirect("money:plan-detail", plan_id=plan.pk)
        except PermissionDenied as exc:
            return _forbidden(request, exc.message)
        except ValidationError as exc:
            field = exc.field if exc.field in form.fields else None
            form.add_error(field, exc.message)
    return render(
        request,
        "money/plan_new.html",
        {"form": form, "case": case, "rules": rules, "schedule": schedule, "problems": problems},
    )


def _detail_context(request: HttpRequest, plan: RepaymentPlan) -> dict[str, Any]:
    user = _user(request)
    return {
        "plan": plan,
        "instalments": list(plan.instalments.order_by("number")),
        "consent_form": ConsentForm(),
        "sign_form": SignForm(initial={"signed_on": timezone.localdate()}),
        "can_approve": bool(user.role_codes & plans.APPROVER_ROLES)
        and plan.proposed_by_id != user.pk,
        "needs_payer": plan.payer != RepaymentPlan.Payer.DEBTOR,
    }


@require_GET
@login_required
def plan_detail(request: HttpRequest, plan_id: int) -> HttpResponse:
    plan = _plan(request, plan_id)
    return render(request, "money/plan_detail.html", _detail_context(request, plan))


@require_POST
@login_required
def plan_step(request: HttpRequest, plan_id: int, step: str) -> HttpResponse:
    user = _user(request)
    plan = _plan(request, plan_id)
    post, files = request.POST, request.FILES

    def document(name: str) -> plans.Document | None:
        upload = files.get(name)
        return plans.Document(upload.name or name, upload) if upload else None

    try:
        if step == "approve":
            plans.plan_approve(actor=user, plan=plan, note=post.get("note", ""))
            done = _("已批准，等待委托方同意。")
        elif step == "reject":
            plans.plan_reject(actor=user, plan=plan, reason=post.get("reason", ""))
            done = _("已驳回。")
        elif step == "withdraw":
            plans.plan_withdraw(actor=user, plan=plan, reason=post.get("reason", ""))
            done = _("已撤回。")
        elif step == "consent":
            plans.plan_consent(
                actor=user,
                plan=plan,
                reference=post.get("reference", ""),
                evidence=document("evidence"),
            )
            done = _("已登记委托方同意，等待签署。")
        elif step == "sign":
            form = SignForm(post, files)
            signed_on = form.fields["signed_on"].clean(post.get("signed_on", ""))
            plans.plan_sign(
                actor=user,
                plan=plan,
                signed_on=signed_on,
                debtor_document=document("debtor_document"),
                payer_document=document("payer_document"),
            )
            done = _("还款计划已生效，案件转为分期中。")
        else:
            raise Http404(_("未知步骤。"))
    except PermissionDenied as exc:
        return _forbidden(request, exc.message)
    except RecoupError as exc:
        messages.error(request, exc.message)
    except FieldError as exc:  # a form field's own validation (e.g. a date)
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, done)
    return redirect("money:plan-detail", plan_id=plan.pk)


@require_GET
@login_required
def plan_file(request: HttpRequest, plan_id: int, which: str) -> FileResponse:
    plan = _plan(request, plan_id)
    try:
        field, digest = selectors.plan_file(plan, which)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    plans.plan_file_opened(actor=_user(request), plan=plan, which=which, sha256=digest)
    return FileResponse(field.open("rb"), as_attachment=True)
