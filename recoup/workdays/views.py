"""The working-day calendar screen: a year as month grids, one-day edits (HTMX) and imports.

Any agency staff member may look; only system administrators and HQ may change a day or
import a year (``permissions``); everyone else gets 403 on those requests.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from recoup.accounts.models import User
from recoup.core.exceptions import PermissionDenied, RecoupError
from recoup.workdays import selectors, services
from recoup.workdays.forms import DayForm, YearImportForm
from recoup.workdays.permissions import can_edit_calendar, can_view_calendar

TEMPLATE = "workdays/calendar.html"


def _user(request: HttpRequest) -> User:
    assert isinstance(request.user, User)
    return request.user


def _forbidden(request: HttpRequest, message: str = "") -> HttpResponse:
    return render(request, "403.html", {"message": message}, status=403)


def _year_from(value: str | None) -> int:
    if not value:
        return timezone.localdate().year
    try:
        year = int(value)
        services.check_year(year)
    except (ValueError, RecoupError) as exc:
        raise Http404 from exc
    return year


def _page_url(year: int) -> str:
    return f"{reverse('workdays:calendar')}?year={year}"


def _page_context(
    user: User, year: int, import_form: YearImportForm | None = None
) -> dict[str, Any]:
    this_year = timezone.localdate().year
    years = {cy.year for cy in selectors.calendar_years()} | {this_year, this_year + 1, year}
    return {
        "grid": selectors.year_grid(year),
        "years": sorted(years),
        "can_edit": can_edit_calendar(user),
        "import_form": import_form or YearImportForm(initial={"year": year}),
        "weekdays": [_("一"), _("二"), _("三"), _("四"), _("五"), _("六"), _("日")],
    }


@require_GET
@login_required
def calendar_page(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    if not can_view_calendar(user):
        return _forbidden(request)
    year = _year_from(request.GET.get("year"))
    return render(request, TEMPLATE, _page_context(user, year))


@require_http_methods(["GET", "POST"])
@login_required
def day_edit(request: HttpRequest, iso: str) -> HttpResponse:
    """HTMX: the small form for one day (GET), saved in place (POST) with the cell swapped."""
    user = _user(request)
    if not can_edit_calendar(user):
        return _forbidden(request)
    try:
        day = date.fromisoformat(iso)
        services.check_year(day.year)
    except (ValueError, RecoupError) as exc:
        raise Http404 from exc
    row = selectors.calendar_day_get(day)
    cell = selectors.day_cell(day, row)
    form = DayForm(request.POST or None, initial={"is_workday": cell.is_workday, "name": cell.name})
    saved = False
    if request.method == "POST" and form.is_valid():
        try:
            row = services.day_set(
                day=day,
                is_workday=form.cleaned_data["is_workday"],
                name=form.cleaned_data["name"],
                actor=user,
            )
        except PermissionDenied as exc:
            return _forbidden(request, exc.message)
        except RecoupError as exc:
            form.add_error(None, exc.message)
        else:
            if not request.htmx:  # type: ignore[attr-defined]
                messages.success(request, _("%(day)s 已保存。") % {"day": day.isoformat()})
                return redirect(_page_url(day.year))
            saved = True
            cell = selectors.day_cell(day, row)
    context = {
        "day": day,
        "cell": cell,
        "row": row,
        "form": form,
        "saved": saved,
        "can_edit": True,
    }
    template = f"{TEMPLATE}#day-editor" if request.htmx else "workdays/day_edit.html"  # type: ignore[attr-defined]
    return render(request, template, context, status=400 if form.errors else 200)


@require_POST
@login_required
def year_import(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    if not can_edit_calendar(user):
        return _forbidden(request)
    form = YearImportForm(request.POST, request.FILES)
    if form.is_valid():
        year, upload = form.cleaned_data["year"], form.cleaned_data["file"]
        try:
            result = services.year_import(
                year=year, file=upload, file_name=upload.name or "", actor=user
            )
        except PermissionDenied as exc:
            return _forbidden(request, exc.message)
        except RecoupError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(
                request,
                _("%(year)s 年工作日历已导入：文件 %(rows)s 行，全年 %(workdays)s 个工作日。")
                % {"year": year, "rows": result.rows, "workdays": result.workdays},
            )
            return redirect(_page_url(year))
    shown = form.cleaned_data.get("year") or timezone.localdate().year
    return render(request, TEMPLATE, _page_context(user, shown, import_form=form), status=400)
