"""Intake screens: upload, mapping with preview and live check, progress, report, stop list."""

from __future__ import annotations

from typing import Any

import polars as pl
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from recoup.accounts.models import OrgUnit, User
from recoup.accounts.selectors import org_structure
from recoup.core.exceptions import NotFound, PermissionDenied, RecoupError
from recoup.intake import selectors, services
from recoup.intake.fields import check_mapping
from recoup.intake.forms import ResubmitForm, StopListForm, UploadForm, mapping_choices
from recoup.intake.messages import issue_message
from recoup.intake.models import ImportJob
from recoup.intake.permissions import STOP_LIST_KEEPERS, can_import
from recoup.intake.pipeline import PERSONAL_FIELDS
from recoup.intake.readers import ReadError, open_table
from recoup.intake.report import issues_workbook

PREVIEW_ROWS = 10


def _user(request: HttpRequest) -> User:
    assert isinstance(request.user, User)
    return request.user


def _job(request: HttpRequest, job_id: int) -> ImportJob:
    try:
        return selectors.job_get_for_user(_user(request), job_id)
    except NotFound as exc:
        raise Http404(exc.message) from exc


def _forbidden(request: HttpRequest, message: str = "") -> HttpResponse:
    return render(request, "403.html", {"message": message}, status=403)


@require_GET
@login_required
def job_list(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    jobs = selectors.jobs_for_user(user)
    page = Paginator(jobs, 30).get_page(request.GET.get("page"))
    rows = [(job, selectors.job_progress(job)) for job in page.object_list]
    return render(
        request,
        "intake/job_list.html",
        {
            "page": page,
            "rows": rows,
            "can_upload": selectors.importable_contracts(user).exists(),
        },
    )


@require_http_methods(["GET", "POST"])
@login_required
def upload(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    contracts = list(selectors.importable_contracts(user))
    if not contracts:
        return _forbidden(request, _("你没有可导入的合作协议。"))
    units, _teams = org_structure(user)
    branches = [u for u in units if u.kind == OrgUnit.Kind.BRANCH]
    form = UploadForm(
        request.POST or None, request.FILES or None, contracts=contracts, branches=branches
    )
    if request.method == "POST" and form.is_valid():
        cd = form.cleaned_data
        try:
            contract = selectors.contract_get_for_import(user, cd["contract"])
            branch = next((b for b in branches if b.pk == cd["branch"]), None)
            job = services.import_upload(
                upload=services.Upload(
                    contract=contract,
                    kind=cd["kind"],
                    file=cd["file"],
                    file_name=cd["file"].name,
                    received_at=cd["received_at"],
                    batch_reference=cd["batch_reference"] or "",
                    branch=branch,
                    encoding=cd["encoding"] or "",
                    sheet=cd["sheet"] or "",
                ),
                actor=user,
            )
        except (NotFound, RecoupError) as exc:
            form.add_error(None, exc.message)
        else:
            return redirect("intake:job-mapping", job_id=job.pk)
    return render(request, "intake/upload.html", {"form": form}, status=400 if form.errors else 200)


def _mapping_from_post(request: HttpRequest, headers: list[str]) -> dict[str, str]:
    return {h: request.POST.get(f"col{i}", "ignore") for i, h in enumerate(headers)}


def _preview(job: ImportJob, headers: list[str]) -> list[list[str]]:
    """The first rows, with the columns mapped to personal data masked."""
    with open_table(
        services.local_path(job),
        encoding=job.encoding or None,
        sheet=job.sheet or None,
        limits=services.read_limits(),
        head=True,
    ) as table:
        frame: pl.DataFrame = table.preview(PREVIEW_ROWS)
    personal = {h for h, f in job.columns.items() if f in PERSONAL_FIELDS}
    rows = []
    for record in frame.iter_rows(named=True):
        row = []
        for h in headers:
            value = record.get(h) or ""
            row.append(value[:1] + "***" if h in personal and value else value)
        rows.append(row)
    return rows


@require_http_methods(["GET", "POST"])
@login_required
def job_mapping(request: HttpRequest, job_id: int) -> HttpResponse:
    user = _user(request)
    job = _job(request, job_id)
    if job.status != ImportJob.Status.DRAFT:
        return redirect("intake:job-detail", job_id=job.pk)
    if not can_import(user, job.contract):
        return _forbidden(request)
    try:
        headers = services.job_headers(job)
        preview = _preview(job, headers)
    except ReadError as exc:
        messages.error(request, exc.message())
        return redirect("intake:job-list")
    columns = job.columns
    problems: list[str] = []
    if request.method == "POST":
        columns = _mapping_from_post(request, headers)
        try:
            services.import_confirm(
                job=job, columns=columns, actor=user, save_as=request.POST.get("save_as", "")
            )
        except services.MappingProblems as exc:
            problems = exc.problems
        except RecoupError as exc:
            problems = [exc.message]
        else:
            return redirect("intake:job-detail", job_id=job.pk)
    else:
        problems = check_mapping(columns, headers, job.kind)
    context = {
        "job": job,
        "headers": list(enumerate(headers)),
        "columns": columns,
        "choices": mapping_choices(job.kind),
        "preview": preview,
        "problems": problems,
    }
    return render(
        request, "intake/job_mapping.html", context, status=400 if request.method == "POST" else 200
    )


@require_POST
@login_required
def job_mapping_check(request: HttpRequest, job_id: int) -> HttpResponse:
    """HTMX: the live check of the mapping while it is edited."""
    job = _job(request, job_id)
    headers = services.job_headers(job)
    problems = check_mapping(_mapping_from_post(request, headers), headers, job.kind)
    return render(request, "intake/job_mapping.html#mapping-problems", {"problems": problems})


def _detail_context(request: HttpRequest, job: ImportJob) -> dict[str, Any]:
    issues = selectors.job_issues(job)
    page = Paginator(issues, 100).get_page(request.GET.get("page"))
    rendered = [(i, issue_message(i.code, i.params)) for i in page.object_list]
    return {
        "job": job,
        "p": selectors.job_progress(job),
        "issues_page": page,
        "issues": rendered,
        "can_retry": job.status == ImportJob.Status.FAILED
        and can_import(_user(request), job.contract),
        "quarantined": job.quarantine.filter(resolved_by__isnull=True).count(),
        "can_import": can_import(_user(request), job.contract),
        "resubmit_form": ResubmitForm(),
    }


@require_GET
@login_required
def job_detail(request: HttpRequest, job_id: int) -> HttpResponse:
    job = _job(request, job_id)
    return render(request, "intake/job_detail.html", _detail_context(request, job))


@require_GET
@login_required
def job_progress(request: HttpRequest, job_id: int) -> HttpResponse:
    """HTMX polling target: the progress card (it stops polling once the job is done)."""
    job = _job(request, job_id)
    response = render(
        request, "intake/job_detail.html#progress", {"job": job, "p": selectors.job_progress(job)}
    )
    if job.status not in (ImportJob.Status.QUEUED, ImportJob.Status.RUNNING):
        response["HX-Refresh"] = "true"  # show the final summary and report
    return response


@require_GET
@login_required
def job_report(request: HttpRequest, job_id: int) -> HttpResponse:
    job = _job(request, job_id)
    response = HttpResponse(
        issues_workbook(job),
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )
    response["Content-Disposition"] = f'attachment; filename="import-{job.pk}-issues.xlsx"'
    return response


@require_GET
@login_required
def job_quarantine(request: HttpRequest, job_id: int) -> HttpResponse:
    """The quarantined rows in full, as an XLSX to correct and re-submit (audited)."""
    job = _job(request, job_id)
    try:
        content, _rows = services.quarantine_export(job=job, actor=_user(request))
    except PermissionDenied as exc:
        return _forbidden(request, exc.message)
    response = HttpResponse(
        content,
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )
    response["Content-Disposition"] = f'attachment; filename="import-{job.pk}-quarantine.xlsx"'
    return response


@require_POST
@login_required
def job_retry(request: HttpRequest, job_id: int) -> HttpResponse:
    job = _job(request, job_id)
    try:
        services.import_retry(job=job, actor=_user(request))
    except PermissionDenied as exc:
        return _forbidden(request, exc.message)
    except RecoupError as exc:
        messages.error(request, exc.message)
    return redirect("intake:job-detail", job_id=job.pk)


@require_POST
@login_required
def job_resubmit(request: HttpRequest, job_id: int) -> HttpResponse:
    """Upload a corrected file of the quarantined rows into the same batch."""
    user = _user(request)
    job = _job(request, job_id)
    form = ResubmitForm(request.POST, request.FILES)
    if not form.is_valid():
        messages.error(request, _("请选择更正后的文件。"))
        return redirect("intake:job-detail", job_id=job.pk)
    try:
        new = services.import_upload(
            upload=services.Upload(
                contract=job.contract,
                kind=job.kind,
                file=form.cleaned_data["file"],
                file_name=form.cleaned_data["file"].name,
                received_at=job.received_at,
                branch=job.branch,
                columns=job.columns,
                resubmission_of=job,
            ),
            actor=user,
        )
    except PermissionDenied as exc:
        return _forbidden(request, exc.message)
    except RecoupError as exc:
        messages.error(request, exc.message)
        return redirect("intake:job-detail", job_id=job.pk)
    return redirect("intake:job-mapping", job_id=new.pk)


@require_http_methods(["GET", "POST"])
@login_required
def stop_list(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    if not user.has_role(*STOP_LIST_KEEPERS, "supervisor"):
        return _forbidden(request)
    can_edit = user.has_role(*STOP_LIST_KEEPERS)
    form = StopListForm(request.POST or None)
    if request.method == "POST":
        if not can_edit:
            return _forbidden(request)
        if form.is_valid():
            try:
                services.stop_list_add(actor=user, **form.cleaned_data)
            except RecoupError as exc:
                form.add_error(None, exc.message)
            else:
                messages.success(request, _("已加入停催名单。"))
                return redirect("intake:stop-list")
    entries = Paginator(selectors.stop_list_for_user(user), 50).get_page(request.GET.get("page"))
    return render(
        request,
        "intake/stop_list.html",
        {"form": form, "entries": entries, "can_edit": can_edit},
        status=400 if form.errors else 200,
    )


@require_POST
@login_required
def stop_list_remove(request: HttpRequest, entry_id: int) -> HttpResponse:
    user = _user(request)
    entry = selectors.stop_list_for_user(user).filter(pk=entry_id).first()
    if entry is None:
        raise Http404
    try:
        services.stop_list_remove(entry=entry, actor=user)
    except PermissionDenied as exc:
        return _forbidden(request, exc.message)
    return redirect("intake:stop-list")
