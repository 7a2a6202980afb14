"""One live session per person: a newer login ends the older one (SPEC §7)."""

from __future__ import annotations

from collections.abc import Callable

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _

from recoup.accounts.services import user_logout


class SingleSessionMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            current = getattr(user, "current_session_key", "")
            if current and request.session.session_key != current:
                user_logout(request=request, reason="superseded_by_newer_login")
                messages.warning(request, _("你的账号已在其他地方登录，本会话已结束。"))
        return self.get_response(request)
