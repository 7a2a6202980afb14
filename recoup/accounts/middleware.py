"""Sessions: one live session per person (a newer login ends the older one), kept alive
while used (SPEC §7)."""

from __future__ import annotations

import time
from collections.abc import Callable

from django.conf import settings
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


TOUCHED_KEY = "_recoup_touched"


class SessionTouchMiddleware:
    """Keep a signed-in session alive while it is used, writing it at most once a minute.

    Sessions end after ``RECOUP_SESSION_IDLE_MINUTES`` without a request (SPEC §7): saving a
    session moves its expiry to now + that age. Saving it on every request (Django's
    ``SESSION_SAVE_EVERY_REQUEST``) cost every page an UPDATE and a commit, a disk flush on
    PostgreSQL (bench/gate.py: the queue page's tail under load). Here a request saves the
    session only when the last save is ``RECOUP_SESSION_TOUCH_SECONDS`` old or older, so an
    idle session ends between age − touch and age after its last request.

    Placed after ``SessionMiddleware``: its response phase runs first, marking the session
    modified, and ``SessionMiddleware`` then saves it.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.every = max(0, int(getattr(settings, "RECOUP_SESSION_TOUCH_SECONDS", 60)))

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        session = getattr(request, "session", None)
        if session is None or session.is_empty():
            return response
        stamp = int(time.time())
        if session.modified:  # saved anyway (a login, a message): note when
            session[TOUCHED_KEY] = stamp
            return response
        touched = session.get(TOUCHED_KEY)
        if not isinstance(touched, int) or stamp - touched >= self.every or stamp < touched:
            session[TOUCHED_KEY] = stamp
        return response
