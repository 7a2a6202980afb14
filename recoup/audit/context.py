"""Request context (client IP, request id) that audit events pick up without being passed it.

Set per request by ``AuditContextMiddleware``; a context variable, so it is per thread/task
and nothing leaks between requests or web processes.
"""

from __future__ import annotations

import ipaddress
import uuid
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass

from django.conf import settings
from django.http import HttpRequest, HttpResponse


@dataclass(frozen=True)
class RequestContext:
    ip: str | None = None
    request_id: str = ""


_EMPTY = RequestContext()
_current: ContextVar[RequestContext] = ContextVar("recoup_audit_context", default=_EMPTY)


def current() -> RequestContext:
    return _current.get()


def client_ip(request: HttpRequest) -> str | None:
    """The client's address: behind RECOUP_NUM_PROXIES trusted proxies, taken from the
    X-Forwarded-For entry the outermost trusted proxy appended (earlier entries can be forged
    by the client, so they are ignored)."""
    proxies: int = getattr(settings, "RECOUP_NUM_PROXIES", 0)
    if proxies > 0:
        hops = [
            h.strip() for h in request.headers.get("X-Forwarded-For", "").split(",") if h.strip()
        ]
        if len(hops) >= proxies:
            try:
                return str(ipaddress.ip_address(hops[-proxies]))
            except ValueError:
                pass  # not an address: a misconfigured proxy count; fall back to the peer
    return request.META.get("REMOTE_ADDR")


class AuditContextMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = request.headers.get("X-Request-ID", "")[:64] or uuid.uuid4().hex
        token = _current.set(RequestContext(ip=client_ip(request), request_id=request_id))
        try:
            response = self.get_response(request)
        finally:
            _current.reset(token)
        response["X-Request-ID"] = request_id
        return response
