"""Playing a call recording in the browser, with HTTP range requests (RFC 9110 §14).

An ``<audio>`` element asks for byte ranges as the listener seeks; each answer is a 206 with
its ``Content-Range``. Only a request from the first byte counts as a play (audited by
``recording_open_for_play``), so seeking does not flood the audit log.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from uuid import UUID

from django.contrib.auth.decorators import login_required
from django.core.files import File
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.views.decorators.http import require_GET

from recoup.accounts.models import User
from recoup.contact import recordings
from recoup.core.exceptions import NotFound

CHUNK = 1 << 16
_RANGE = re.compile(r"^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$", re.IGNORECASE)


class RangeNotSatisfiable(Exception):
    """No byte of the requested range exists (416)."""


def parse_range(header: str, size: int) -> tuple[int, int] | None:
    """The single byte range ``header`` asks of a ``size``-byte file, as (first, last).

    None means serve the whole file: no header, a malformed one, or several ranges (a
    server may ignore a Range header, RFC 9110 §14.2). Raises RangeNotSatisfiable when the
    range starts past the end or is an empty suffix.
    """
    match = _RANGE.match(header or "")
    if match is None:
        return None
    first, last = match.group(1), match.group(2)
    if not first and not last:
        return None
    if not first:  # a suffix: the last N bytes
        length = int(last)
        if length == 0 or size == 0:
            raise RangeNotSatisfiable
        return max(size - length, 0), size - 1
    start = int(first)
    if last and int(last) < start:
        return None  # an invalid range-spec: the header is ignored
    if start >= size:
        raise RangeNotSatisfiable
    return start, min(int(last), size - 1) if last else size - 1


def _stream(fh: File[bytes], length: int) -> Iterator[bytes]:
    try:
        while length > 0:
            chunk = fh.read(min(CHUNK, length))
            if not chunk:
                break
            length -= len(chunk)
            yield chunk
    finally:
        fh.close()


@require_GET
@login_required
def recording_play(request: HttpRequest, uid: UUID) -> HttpResponseBase:
    user = request.user
    assert isinstance(user, User)
    try:
        recording = recordings.recording_get_for_user(user, uid)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    size = recording.size
    etag = f'"{recording.sha256}"'
    header = request.headers.get("Range", "")
    if_range = request.headers.get("If-Range", "")
    if if_range and if_range != etag:
        header = ""  # the client's copy is of another file: send the whole one
    try:
        byte_range = parse_range(header, size)
    except RangeNotSatisfiable:
        response = HttpResponse(status=416)
        response["Content-Range"] = f"bytes */{size}"
        response["Accept-Ranges"] = "bytes"
        return response
    first, last = byte_range if byte_range is not None else (0, size - 1)
    try:
        fh = recordings.recording_open_for_play(actor=user, recording=recording, first_byte=first)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    fh.seek(first)
    length = last - first + 1
    streamed = StreamingHttpResponse(
        _stream(fh, length),
        status=206 if byte_range is not None else 200,
        content_type=recording.content_type,
    )
    streamed["Content-Length"] = str(length)
    streamed["Accept-Ranges"] = "bytes"
    if byte_range is not None:
        streamed["Content-Range"] = f"bytes {first}-{last}/{size}"
    streamed["ETag"] = etag
    # Recordings hold personal data: never in a shared cache, not kept by the browser.
    streamed["Cache-Control"] = "private, no-store"
    streamed["Content-Disposition"] = f'inline; filename="{recording.uid}"'
    return streamed
