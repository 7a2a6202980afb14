"""Reconciliation screens: statements by contract and month, upload, one statement with its
breaks and their steps, the lock, new versions and the exports."""

from __future__ import annotations

from datetime import date

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from recoup.clients.models import Contract
from recoup.clients.selectors import clients_for_user, contracts_for_user
from recoup.core.exceptions import NotFound, PermissionDenied, RecoupError, ValidationError
from recoup.money import commission, reconcile, selectors, statement_export
from recoup.money.commission import performance
from recoup.money.forms import parse_amount
from recoup.money.models import Statement, StatementBreak
from recoup.money.services import can_handle_payments
from recoup.money.views import _forbidden, _user


class StatementForm(forms.Form):
    contract = forms.ModelChoiceField[Contract](
        label=gettext_lazy("合作协议"), queryset=Contract.objects.none()
    )
    month = forms.CharField(
        label=gettext_lazy("对账月份"), widget=forms.TextInput(attrs={"type": "month"})
    )
    file = forms.FileField(label=gettext_lazy("委托方对账单（CSV/XLSX）"))
    currency = forms.CharField(label=gettext_lazy("币种"), max_length=3, initial="CNY")
    declared_count = forms.IntegerField(label=gettext_lazy("封面笔数"), min_value=0)
    declared_total = forms.CharField(label=gettext_lazy("封面金额"), max_length=24)

    def __init__(self, *args: object, contracts: object = None, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["contract"].queryset = contracts  # type: ignore[attr-defined]
        for name, field in self.fields.items():
            field.widget.attrs.setdefault(
                "class", "form-select" if name == "contract" else "form-control"
            )

    def clean_month(self) -> date:
        raw = self.cleaned_data["month"].strip()
        try:
            year, month = raw.split("-")[:2]
            return date(int(year), int(month), 1)
        except ValueError:
            raise forms.ValidationError(_("月份格式为 YYYY-MM，如 2026-11。")) from None

    def clean_declared_total(self) -> object:
        return parse_amount(self.cleaned_data["declared_total"])


def _statement(request: HttpRequest, statement_id: int) -> Statement:
    try:
        return selectors.statement_get(_user(request), statement_id)
    except NotFound as exc:
        raise Http404(exc.message) from exc


@require_http_methods(["GET", "POST"])
@login_required
def statement_list(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    if not can_handle_payments(user):
        return _forbidden(request, _("您无权对账。"))
    contracts = contracts_for_user(user)
    form = StatementForm(request.POST or None, request.FILES or None, contracts=contracts)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        upload = data["file"]
        try:
            statement = reconcile.statement_upload(
                actor=user,
                data=reconcile.StatementUpload(
                    contract=data["contract"],
                    month=data["month"],
                    file_name=upload.name or "statement.csv",
                    stream=upload,
                    currency=data["currency"],
                    declared_count=data["declared_count"],
                    declared_total=data["declared_total"],
                ),
            )
        except PermissionDenied as exc:
            return _forbidden(request, exc.message)
        except ValidationError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        else:
            messages.success(request, _("对账单已导入并完成匹配。"))
            return redirect("money:statement-detail", statement_id=statement.pk)
    page = Paginator(selectors.statements_for(user), 50).get_page(request.GET.get("page"))
    return render(
        request,
        "money/statement_list.html",
        {"form": form, "page": page, "this_month": timezone.localdate().replace(day=1)},
    )


@require_GET
@login_required
def statement_detail(request: HttpRequest, statement_id: int) -> HttpResponse:
    statement = _statement(request, statement_id)
    kind = request.GET.get("kind", "")
    breaks = StatementBreak.objects.filter(statement_id=statement.pk).select_related(
        "line", "payment", "proposed_by", "resolved_by"
    )
    if kind in StatementBreak.Kind.values:
        breaks = breaks.filter(kind=kind)
    page = Paginator(breaks.order_by("status", "id"), 100).get_page(request.GET.get("page"))
    return render(
        request,
        "money/statement_detail.html",
        {
            "s": statement,
            "page": page,
            "kind": kind,
            "kinds": StatementBreak.Kind.choices,
            "performance": performance(statement),
            "run": getattr(statement, "commission", None),
        },
    )


@require_POST
@login_required
def statement_step(request: HttpRequest, statement_id: int, step: str) -> HttpResponse:
    user = _user(request)
    statement = _statement(request, statement_id)
    post = request.POST
    target = statement.pk
    try:
        if step == "lock":
            reconcile.statement_lock(actor=user, statement=statement)
            done = _("对账单已锁定。")
        elif step == "new-version":
            new = reconcile.statement_new_version(
                actor=user, statement=statement, reason=post.get("reason", "")
            )
            target, done = new.pk, _("已生成新版本并重新匹配。")
        elif step in ("explain", "propose", "approve", "decline"):
            brk_id = post.get("break", "")
            brk = StatementBreak.objects.filter(
                statement_id=statement.pk, pk=int(brk_id) if brk_id.isdigit() else 0
            ).first()
            if brk is None:
                raise Http404(_("差异不存在。"))
            if step == "explain":
                reconcile.break_explain(actor=user, brk=brk, text=post.get("text", ""))
            elif step == "propose":
                reconcile.break_propose(actor=user, brk=brk, note=post.get("text", ""))
            elif step == "approve":
                reconcile.break_approve(actor=user, brk=brk)
            else:
                reconcile.break_decline(actor=user, brk=brk, reason=post.get("text", ""))
            done = _("已处理。")
        else:
            raise Http404(_("未知步骤。"))
    except PermissionDenied as exc:
        return _forbidden(request, exc.message)
    except RecoupError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, done)
    return redirect("money:statement-detail", statement_id=target)


@require_GET
@login_required
def statement_download(request: HttpRequest, statement_id: int, fmt: str) -> HttpResponse:
    user = _user(request)
    statement = _statement(request, statement_id)
    name = f"statement-{statement.contract.number}-{statement.month:%Y%m}-v{statement.version}"
    if fmt == "xlsx":
        body = statement_export.statement_xlsx(actor=user, statement=statement)
        content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    elif fmt == "pdf":
        body = statement_export.statement_pdf(actor=user, statement=statement)
        content_type = "application/pdf"
    else:
        raise Http404(_("未知格式。"))
    response = HttpResponse(body, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{name}.{fmt}"'
    return response


class ScorecardForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("名称"), max_length=80)
    recovery = forms.IntegerField(label=gettext_lazy("回款权重（%）"), min_value=0, max_value=100)
    compliance = forms.IntegerField(label=gettext_lazy("合规权重（%）"), min_value=0, max_value=100)
    quality = forms.IntegerField(label=gettext_lazy("质检权重（%）"), min_value=0, max_value=100)

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        for field in self.fields.values():
            field.widget.attrs.setdefault("class", "form-control")


@require_http_methods(["GET", "POST"])
@login_required
def scorecard(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    if user.organisation_id is None:
        raise Http404
    can_edit = bool(user.role_codes & commission.SCORECARD_KEEPERS)
    form = ScorecardForm(request.POST or None)
    if request.method == "POST":
        if not can_edit:
            return _forbidden(request, _("只有总公司或分公司经理可以设置考核权重。"))
        if form.is_valid():
            data = form.cleaned_data
            try:
                commission.scorecard_save(
                    actor=user,
                    name=data["name"],
                    recovery=data["recovery"],
                    compliance=data["compliance"],
                    quality=data["quality"],
                )
            except ValidationError as exc:
                form.add_error(None, exc.message)
            else:
                messages.success(request, _("考核权重已保存。"))
                return redirect("money:scorecard")
    return render(
        request,
        "money/scorecard.html",
        {
            "form": form,
            "can_edit": can_edit,
            "cards": selectors.scorecards(user.organisation_id),
            "defaults": commission.DEFAULT_WEIGHTS,
        },
    )


@require_http_methods(["GET", "POST"])
@login_required
def statement_layout(request: HttpRequest) -> HttpResponse:
    """A client's export layout: its title and columns (``field=heading`` per line)."""
    user = _user(request)
    clients = clients_for_user(user)
    client = clients.filter(pk=request.POST.get("client") or request.GET.get("client") or 0).first()
    if client is None:
        client = clients.first()
    if client is None:
        raise Http404(_("委托方不存在。"))
    current = selectors.statement_layout(client.pk)
    if request.method == "POST":
        try:
            statement_export.layout_save(
                actor=user,
                client=client,
                title=request.POST.get("title", ""),
                columns=request.POST.get("columns", ""),
            )
        except PermissionDenied as exc:
            return _forbidden(request, exc.message)
        except ValidationError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, _("对账单格式已保存。"))
            return redirect(f"{request.path}?client={client.pk}")
    columns = (
        current.columns
        if current
        else [[f, str(statement_export.EXPORT_FIELDS[f])] for f in statement_export.DEFAULT_COLUMNS]
    )
    return render(
        request,
        "money/statement_layout.html",
        {
            "clients": clients,
            "client": client,
            "title": current.title if current else "",
            "columns": "\n".join(f"{f}={h}" for f, h in columns),
            "fields": statement_export.EXPORT_FIELDS,
            "can_edit": bool(user.role_codes & statement_export.LAYOUT_KEEPERS),
        },
    )
