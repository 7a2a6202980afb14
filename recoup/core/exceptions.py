"""Domain exceptions shared by services, views and the API."""

from __future__ import annotations


class RecoupError(Exception):
    """Base for domain errors that carry a user-facing (translatable) message."""

    code = "error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code:
            self.code = code


class NotFound(RecoupError):
    """Unknown object or an object the user may not see: the same answer for both (404)."""

    code = "not_found"


class PermissionDenied(RecoupError):
    """A visible object the user may not change (403)."""

    code = "forbidden"


class InvalidTransition(RecoupError):
    code = "invalid_transition"


class ValidationError(RecoupError):
    """Bad input to a service, with the field it concerns when there is one (400/422)."""

    code = "invalid"

    def __init__(self, message: str, *, field: str = "", code: str | None = None) -> None:
        super().__init__(message, code=code)
        self.field = field
