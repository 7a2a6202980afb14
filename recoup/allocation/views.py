"""Allocation screens: the pool, rule sets, previews and commits, manual allocation, breaches."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from recoup.accounts.models import Role, User
from recoup.allocation import period as period_services
from recoup.allocation import selectors, services
from recoup.allocation.forms import (
    RULE_FORMS,
    CollectorProfileForm,
    DecisionForm,
    ExtensionForm,
    HandoverForm,
    ManualForm,
    RuleForm,
    RuleSetForm,
    split_words,
)
from recoup.allocation.messages import reason_label
from recoup.allocation.models import RuleSet
from recoup.allocation.report import run_workbook
from recoup.core.exceptions import NotFound, PermissionDenied, RecoupError


def _user(request: HttpRequest) -> User:
    assert isinstance(request.user, User)
    return request.user


def _forbidden(request: HttpRequest, message: str = "") -> HttpResponse:
    return render(request, "403.html", {"message": message}, status=403)


def _allocator(request: HttpRequest) -> HttpResponse | None:
    if not services.can_allocate(_user(request)):
        return _forbidden(request, _("只有主管、分公司经理或总公司可以分案。"))
    return None


@require_GET
@login_required
def index(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    if not services.can_allocate(user) and user.has_role(Role.Code.TEAM_LEADER):
        # A team leader's part in allocation: signing off their team's hand-overs.
        return render(
            request, "allocation/sign_list.html", {"runs": selectors.handovers_to_sign(user)}
        )
    if (denied := _allocator(request)) is not None:
        return denied
    return render(
        request,
        "allocation/index.html",
        {
            "pool": selectors.pool_for_user(user),
            "rule_sets": selectors.rule_sets_for_user(user),
            "runs": selectors.runs_for_user(user)[:20],
        },
    )


def _rule_forms(request: HttpRequest, user: User, rule_set: RuleSet | None) -> list[RuleForm]:
    teams = list(selectors.teams_for_allocator(user))
    collectors = selectors.collectors_for_allocator(user)
    initial: list[dict[str, Any]] = []
    if rule_set is not None and request.method != "POST":
        for rule in rule_set.rules.prefetch_related("targets"):
            f = rule.filters
            initial.append(
                {
                    "name": rule.name,
                    "stages": f.get("stages", []),
                    "products": f.get("products", []),
                    "min_balance": f.get("min_balance"),
                    "max_balance": f.get("max_balance"),
                    "provinces": "、".join(f.get("provinces", [])),
                    "cities": "、".join(f.get("cities", [])),
                    "risk_grades": "、".join(f.get("risk_grades", [])),
                    "new_or_reallocated": f.get("new_or_reallocated", "any"),
                    "required_skills": "、".join(rule.required_skills),
                    "teams": [t.team_id for t in rule.targets.all() if t.team_id],
                    "collectors": [t.collector_id for t in rule.targets.all() if t.collector_id],
                }
            )
    count = max(RULE_FORMS, len(initial) + 1)
    return [
        RuleForm(
            request.POST if request.method == "POST" else None,
            prefix=f"r{i}",
            initial=initial[i] if i < len(initial) else None,
            teams=teams,
            collectors=collectors,
        )
        for i in range(count)
    ]


def _rule_inputs(forms: list[RuleForm]) -> list[services.RuleInput]:
    rules = []
    for form in forms:
        if form.is_blank:
            continue
        d = form.cleaned_data
        rules.append(
            services.RuleInput(
                name=d["name"] or _("规则"),
                filters={
                    "stages": d["stages"],
                    "products": d["products"],
                    "min_balance": d["min_balance"],
                    "max_balance": d["max_balance"],
                    "provinces": split_words(d["provinces"]),
                    "cities": split_words(d["cities"]),
                    "risk_grades": split_words(d["risk_grades"]),
                    "new_or_reallocated": d["new_or_reallocated"] or "any",
                },
                required_skills=split_words(d["required_skills"]),
                targets=[services.TargetInput(team_id=t) for t in d["teams"]]
                + [services.TargetInput(collector_id=c) for c in d["collectors"]],
            )
        )
    return rules


@require_http_methods(["GET", "POST"])
@login_required
def rule_set_edit(request: HttpRequest, rule_set_id: int | None = None) -> HttpResponse:
    if (denied := _allocator(request)) is not None:
        return denied
    user = _user(request)
    rule_set = None
    if rule_set_id is not None:
        try:
            rule_set = selectors.rule_set_get_for_user(user, rule_set_id)
        except NotFound as exc:
            raise Http404(exc.message) from exc
    contracts = list(selectors.contracts_for_allocator(user))
    form = RuleSetForm(
        request.POST or None,
        contracts=contracts,
        initial=RuleSetForm.initial_for(rule_set) if rule_set else None,
    )
    rule_forms = _rule_forms(request, user, rule_set)
    if request.method == "POST" and form.is_valid() and all(f.is_valid() for f in rule_forms):
        d = form.cleaned_data
        contract = next(c for c in contracts if c.pk == d["contract"])
        try:
            saved = services.rule_set_save(
                contract=contract,
                name=d["name"],
                rules=_rule_inputs(rule_forms),
                actor=user,
                keep_debtor_together=d["keep_debtor_together"],
                avoid_previous_collector=d["avoid_previous_collector"],
                active=d["active"],
                rule_set=rule_set,
            )
        except (RecoupError, PermissionDenied) as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, _("规则集已保存（第 %(v)s 版）。") % {"v": saved.version})
            return redirect("allocation:index")
    return render(
        request,
        "allocation/rule_set_form.html",
        {"form": form, "rule_forms": rule_forms, "rule_set": rule_set},
    )


@require_POST
@login_required
def rule_set_preview(request: HttpRequest, rule_set_id: int) -> HttpResponse:
    if (denied := _allocator(request)) is not None:
        return denied
    user = _user(request)
    try:
        rule_set = selectors.rule_set_get_for_user(user, rule_set_id)
        run = services.run_preview_rules(rule_set=rule_set, actor=user)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    except (RecoupError, PermissionDenied) as exc:
        messages.error(request, exc.message)
        return redirect("allocation:index")
    return redirect("allocation:run-detail", run_id=run.pk)


def _run_viewer(request: HttpRequest) -> HttpResponse | None:
    user = _user(request)
    if services.can_allocate(user) or user.has_role(Role.Code.TEAM_LEADER):
        return None
    return _forbidden(request, _("只有主管、分公司经理或总公司可以分案。"))


@require_GET
@login_required
def run_detail(request: HttpRequest, run_id: int) -> HttpResponse:
    if (denied := _run_viewer(request)) is not None:
        return denied
    user = _user(request)
    try:
        run = selectors.run_get_for_user(user, run_id)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    names = {u.pk: u for u, _reason in selectors.collectors_for_allocator(user)}
    if not names:  # a team leader signing a hand-over off: the run's own people
        names = {u.pk: u for u in selectors.run_people(run)}
    collectors = []
    for row in run.result.get("collectors", []):
        person = names.get(row["collector_id"])
        collectors.append(
            {
                **row,
                "name": (person.display_name or person.username) if person else row["collector_id"],
                "team": person.team.name if person and person.team else "",
                "balance": Decimal(row["balance"]),
            }
        )
    unplaced = [
        {"code": code, "label": reason_label(code), "count": n}
        for code, n in sorted(run.result.get("unplaced", {}).items())
    ]
    ineligible = [
        {
            "name": (names[i["collector_id"]].display_name or names[i["collector_id"]].username)
            if i["collector_id"] in names
            else i["collector_id"],
            "label": reason_label(i["reason"]),
        }
        for i in run.result.get("ineligible", [])
    ]
    excluded = [
        {
            "rule": e["rule"],
            "name": (names[e["collector_id"]].display_name or names[e["collector_id"]].username)
            if e["collector_id"] in names
            else e["collector_id"],
            "label": reason_label(e["reason"], e.get("params")),
        }
        for e in run.result.get("excluded", [])
    ]
    page = Paginator(selectors.run_lines(run), 50).get_page(request.GET.get("page"))
    lines = [(line, reason_label(line.reason, line.params)) for line in page.object_list]
    return render(
        request,
        "allocation/run_detail.html",
        {
            "run": run,
            "collectors": collectors,
            "unplaced": unplaced,
            "ineligible": ineligible,
            "excluded": excluded,
            "page": page,
            "lines": lines,
            "can_commit": services.can_allocate(user),
            "can_sign_off": run.status == "preview"
            and run.signed_off_by_id is None
            and services.can_sign_off(user, run),
            "chart": {
                "names": [str(c["name"]) for c in collectors],
                "balances": [float(c["balance"]) for c in collectors],
                "cases": [c["cases"] for c in collectors],
            },
        },
    )


@require_POST
@login_required
def run_commit(request: HttpRequest, run_id: int) -> HttpResponse:
    return _run_action(request, run_id, commit=True)


@require_POST
@login_required
def run_discard(request: HttpRequest, run_id: int) -> HttpResponse:
    return _run_action(request, run_id, commit=False)


def _run_action(request: HttpRequest, run_id: int, *, commit: bool) -> HttpResponse:
    if (denied := _allocator(request)) is not None:
        return denied
    user = _user(request)
    try:
        run = selectors.run_get_for_user(user, run_id)
        if commit:
            run = services.run_commit(run=run, actor=user)
            messages.success(
                request, _("分案已提交：%(n)s 个案件已分配。") % {"n": run.placed_count}
            )
        else:
            services.run_discard(run=run, actor=user)
            messages.info(request, _("已放弃该预览。"))
    except NotFound as exc:
        raise Http404(exc.message) from exc
    except (RecoupError, PermissionDenied) as exc:
        messages.error(request, exc.message)
    return redirect("allocation:run-detail", run_id=run_id)


@require_http_methods(["GET", "POST"])
@login_required
def manual(request: HttpRequest) -> HttpResponse:
    if (denied := _allocator(request)) is not None:
        return denied
    user = _user(request)
    teams = list(selectors.teams_for_allocator(user))
    collectors = selectors.collectors_for_allocator(user)
    form = ManualForm(
        request.POST or None,
        contracts=list(selectors.contracts_for_allocator(user)),
        teams=teams,
        collectors=collectors,
        initial={"numbers": request.GET.get("numbers", "")},
    )
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        if form.by_filter:
            ids = selectors.cases_by_filter(
                user,
                d["contract"],
                batch=d["batch"].strip(),
                stages=d["stages"],
                holder_id=d["holder"],
                min_balance=d["min_balance"],
                max_balance=d["max_balance"],
            )
            found = {str(i): i for i in ids}
            missing = []
            if not ids:
                form.add_error(None, _("没有符合条件的案件。"))
        else:
            found = selectors.cases_by_numbers(user, d["contract"], d["numbers"])
            missing = [n for n in d["numbers"] if n not in found]
        if form.errors:
            pass
        elif missing:
            form.add_error(
                "numbers",
                _("找不到或无权分配的案件号：%(numbers)s")
                % {"numbers": "、".join(missing[:20]) + ("…" if len(missing) > 20 else "")},
            )
        else:
            try:
                if d["action"] == "recall":
                    run = services.cases_recall(
                        actor=user, case_ids=list(found.values()), reason=d["reason"]
                    )
                else:
                    person = next((u for u, _r in collectors if u.pk == d["collector"]), None)
                    team = next((t for t in teams if t.pk == d["team"]), None)
                    run = services.run_preview_manual(
                        actor=user, case_ids=list(found.values()), collector=person, team=team
                    )
            except (RecoupError, PermissionDenied) as exc:
                form.add_error(None, exc.message)
            else:
                return redirect("allocation:run-detail", run_id=run.pk)
    return render(request, "allocation/manual.html", {"form": form})


@require_GET
@login_required
def breaches(request: HttpRequest) -> HttpResponse:
    if (denied := _allocator(request)) is not None:
        return denied
    found = selectors.sla_breaches(_user(request))
    return render(
        request,
        "allocation/breaches.html",
        {
            "allocation": found.allocation[:200],
            "allocation_count": found.allocation.count(),
            "first_action": found.first_action[:200],
            "first_action_count": found.first_action.count(),
            "at": found.at,
        },
    )


@require_http_methods(["GET", "POST"])
@login_required
def handover(request: HttpRequest) -> HttpResponse:
    if (denied := _allocator(request)) is not None:
        return denied
    user = _user(request)
    teams = list(selectors.teams_for_allocator(user))
    people = selectors.people_for_handover(user)
    form = HandoverForm(request.POST or None, teams=teams, people=people)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        departing = next(p for p in people if p.pk == d["departing"])
        team = next((t for t in teams if t.pk == d["team"]), None)
        try:
            run = services.run_preview_handover(
                actor=user,
                departing=departing,
                team=team,
                end_access=d["end_access"],
                note=d["note"],
            )
        except (RecoupError, PermissionDenied) as exc:
            form.add_error(None, exc.message)
        else:
            return redirect("allocation:run-detail", run_id=run.pk)
    return render(request, "allocation/handover.html", {"form": form})


@require_POST
@login_required
def run_sign_off(request: HttpRequest, run_id: int) -> HttpResponse:
    if (denied := _run_viewer(request)) is not None:
        return denied
    user = _user(request)
    try:
        run = selectors.run_get_for_user(user, run_id)
        services.run_sign_off(run=run, actor=user)
        messages.success(request, _("已签认交接。"))
    except NotFound as exc:
        raise Http404(exc.message) from exc
    except (RecoupError, PermissionDenied) as exc:
        messages.error(request, exc.message)
    return redirect("allocation:run-detail", run_id=run_id)


@require_GET
@login_required
def run_report(request: HttpRequest, run_id: int) -> HttpResponse:
    """The run's lines as XLSX: per case, before and after (the hand-over report)."""
    if (denied := _run_viewer(request)) is not None:
        return denied
    try:
        run = selectors.run_get_for_user(_user(request), run_id)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    data = run_workbook(run)
    response = HttpResponse(
        data, content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    response["Content-Disposition"] = f'attachment; filename="allocation-run-{run.pk}.xlsx"'
    return response


@require_http_methods(["GET", "POST"])
@login_required
def period(request: HttpRequest) -> HttpResponse:
    """Cases whose period ends within a week: return them, or decide extension requests."""
    if (denied := _allocator(request)) is not None:
        return denied
    user = _user(request)
    if request.method == "POST":
        ids = [int(i) for i in request.POST.getlist("case") if i.isdigit()]
        try:
            run = period_services.cases_return(
                actor=user, case_ids=ids, note=request.POST.get("note", "")
            )
        except (RecoupError, PermissionDenied) as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, _("已退案 %(n)s 个案件。") % {"n": run.placed_count})
            return redirect("allocation:run-detail", run_id=run.pk)
    return render(
        request,
        "allocation/period.html",
        {
            "cases": period_services.period_ending(user)[:500],
            "extensions": period_services.extensions_pending(user),
            "window": period_services.REVIEW_WINDOW_DAYS,
        },
    )


@require_http_methods(["GET", "POST"])
@login_required
def extension_request(request: HttpRequest, case_id: int) -> HttpResponse:
    user = _user(request)
    try:
        case = selectors.case_for_extension(user, case_id)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    form = ExtensionForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            period_services.extension_request(
                case=case, actor=user, days=d["days"], reason=d["reason"], plan=d["plan"]
            )
        except (RecoupError, PermissionDenied) as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, _("延期申请已提交，等待主管审批。"))
            return redirect("cases:case-detail", case_id=case.pk)
    return render(request, "allocation/extension_form.html", {"form": form, "case": case})


@require_POST
@login_required
def extension_decide(request: HttpRequest, extension_id: int) -> HttpResponse:
    if (denied := _allocator(request)) is not None:
        return denied
    user = _user(request)
    form = DecisionForm(request.POST)
    try:
        extension = selectors.extension_get_for_user(user, extension_id)
        if not form.is_valid():
            raise RecoupError(_("请选择批准或驳回。"))
        period_services.extension_decide(
            extension=extension,
            actor=user,
            approve=form.cleaned_data["approve"],
            note=form.cleaned_data["note"],
        )
        messages.success(request, _("已处理延期申请。"))
    except NotFound as exc:
        raise Http404(exc.message) from exc
    except (RecoupError, PermissionDenied) as exc:
        messages.error(request, exc.message)
    return redirect("allocation:period")


@require_GET
@login_required
def return_report(request: HttpRequest, run_id: int) -> HttpResponse:
    """The returned cases in the client's layout (XLSX), to send with the return."""
    if (denied := _allocator(request)) is not None:
        return denied
    try:
        run = selectors.run_get_for_user(_user(request), run_id)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    response = HttpResponse(
        period_services.return_workbook(run),
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )
    response["Content-Disposition"] = f'attachment; filename="returned-cases-{run.pk}.xlsx"'
    return response


@require_GET
@login_required
def collectors(request: HttpRequest) -> HttpResponse:
    """The collectors an allocator allocates to: capacity, skills, weight, daily targets."""
    if (denied := _allocator(request)) is not None:
        return denied
    rows = selectors.collector_settings(_user(request))
    return render(request, "allocation/collectors.html", {"rows": rows})


@require_http_methods(["GET", "POST"])
@login_required
def collector_edit(request: HttpRequest, user_id: int) -> HttpResponse:
    if (denied := _allocator(request)) is not None:
        return denied
    user = _user(request)
    try:
        person, profile = selectors.collector_for_settings(user, user_id)
    except NotFound as exc:
        raise Http404 from exc
    initial = (
        {
            "max_open_cases": profile.max_open_cases,
            "max_total_balance": profile.max_total_balance,
            "skills": " ".join(profile.skills),
            "weight": profile.weight,
            "daily_attempts_target": profile.daily_attempts_target,
            "daily_effective_target": profile.daily_effective_target,
        }
        if profile is not None
        else {"weight": 1}
    )
    form = CollectorProfileForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            services.collector_profile_set(
                person=person,
                actor=user,
                max_open_cases=d["max_open_cases"],
                max_total_balance=d["max_total_balance"],
                skills=split_words(d["skills"]),
                weight=d["weight"],
                daily_attempts_target=d["daily_attempts_target"],
                daily_effective_target=d["daily_effective_target"],
            )
        except (RecoupError, PermissionDenied) as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, _("已保存。"))
            return redirect("allocation:collectors")
    return render(request, "allocation/collector_form.html", {"form": form, "person": person})
