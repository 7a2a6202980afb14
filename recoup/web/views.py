"""The shell: home page, people list for administrators, health check, error pages."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from recoup.cases.selectors import case_status_counts_for_user


@require_GET
@login_required
def home(request: HttpRequest) -> HttpResponse:
    counts = case_status_counts_for_user(request.user)  # type: ignore[arg-type]
    return render(
        request, "web/home.html", {"counts": counts, "total": sum(c["n"] for c in counts)}
    )


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness and database check for load balancers (200 when the database answers)."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        db: dict[str, Any] = {"status": "ok", "vendor": connection.vendor}
        status = 200
    except Exception as exc:  # any database failure means "not healthy"
        db = {"status": "error", "error": exc.__class__.__name__}
        status = 503
    return JsonResponse(
        {"status": "ok" if status == 200 else "error", "database": db}, status=status
    )


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return render(request, "404.html", status=404)


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return render(request, "403.html", status=403)
