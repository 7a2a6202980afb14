"""The JSON API: /api/v1/…, OpenAPI docs at /api/docs.

Two ways in: a bearer token for system clients (dialer, bank; tokens hashed at rest, each
narrowed to one role) and the browser session for the UI (CSRF-checked on writes).
Domain errors map to ``{"error": …, "code": …}`` with 403/404/400.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from ninja import NinjaAPI, Schema
from ninja.errors import AuthenticationError, ValidationError
from ninja.security import APIKeyCookie, HttpBearer

from recoup.accounts.models import User
from recoup.accounts.services import api_token_authenticate
from recoup.cases.api import router as cases_router
from recoup.contact.api import router as contact_router
from recoup.core.exceptions import NotFound, PermissionDenied, RecoupError
from recoup.intake.api import router as intake_router
from recoup.money.api import router as money_router


class TokenAuth(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> User | None:
        user = api_token_authenticate(token)
        if user is not None:
            request.user = user
        return user


class SessionAuth(APIKeyCookie):
    """The UI's session; ninja checks CSRF for unsafe methods."""

    param_name = "sessionid"

    def authenticate(self, request: HttpRequest, key: str | None) -> User | None:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and isinstance(user, User):
            return user
        return None


api = NinjaAPI(
    title="Recoup API",
    version="1",
    description="Recoup 催收作业管理平台 — JSON API for the UI, dialers and banks.",
    auth=[TokenAuth(), SessionAuth()],
    urls_namespace="api",
)


class MeOut(Schema):
    username: str
    display_name: str
    roles: list[str]
    organisation: str | None


@api.get("/v1/me", response=MeOut, tags=["accounts"], operation_id="api_me")
def api_me(request: HttpRequest) -> dict[str, Any]:
    user = request.user
    assert isinstance(user, User)
    return {
        "username": user.username,
        "display_name": user.display_name,
        "roles": sorted(user.role_codes),
        "organisation": user.organisation.name if user.organisation else None,
    }


api.add_router("/v1/cases", cases_router)
api.add_router("/v1/intake", intake_router)
api.add_router("/v1/contact", contact_router)
api.add_router("/v1/money", money_router)


@api.exception_handler(ValidationError)
def _invalid(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    # 422 with the field errors, in the same envelope as every other API error.
    return api.create_response(
        request,
        {"error": _("请求数据有误。"), "code": "invalid", "detail": exc.errors},
        status=422,
    )


@api.exception_handler(AuthenticationError)
def _unauthenticated(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return api.create_response(
        request,
        {"error": _("缺少有效的登录会话或 API 令牌，或令牌已过期。"), "code": "unauthenticated"},
        status=401,
    )


@api.exception_handler(NotFound)
def _not_found(request: HttpRequest, exc: NotFound) -> HttpResponse:
    return api.create_response(request, {"error": exc.message, "code": exc.code}, status=404)


@api.exception_handler(PermissionDenied)
def _forbidden(request: HttpRequest, exc: PermissionDenied) -> HttpResponse:
    return api.create_response(request, {"error": exc.message, "code": exc.code}, status=403)


@api.exception_handler(RecoupError)
def _domain_error(request: HttpRequest, exc: RecoupError) -> HttpResponse:
    return api.create_response(request, {"error": exc.message, "code": exc.code}, status=400)
