"""Google's batch endpoint for Calendar v3: ``POST /batch/calendar/v3`` with a ``multipart/mixed`` body.

As Google's batch guide describes it: each part is ``Content-Type: application/http`` (an optional
``Content-ID``) wrapping one whole request whose URL is a path only; every inner request must go to the same
API; the outer request's headers apply to each part except the ``Content-`` ones, and a part's own header
wins; at most 1,000 calls a batch, each counting as a request of its own. The answer is ``multipart/mixed``
with one ``application/http`` part per request, in request order, each with ``Content-ID:
<response-...>``. Each inner request is answered exactly as if it had come alone (validation, scopes,
faults, the request log), so a batch can never get past what the single endpoints refuse.
"""

from __future__ import annotations

import secrets
from email.parser import BytesParser
from email.policy import HTTP
from http import HTTPStatus
from urllib.parse import parse_qs, urlsplit

from devstack.sims.google.schema import error
from devstack.sims.http import SimRequest, SimResponse, Simulator, payload

BATCH_PATH = "/batch/calendar/v3"
API_PREFIX = "/calendar/v3/"
MAX_CALLS = 1000


class BatchRefused(Exception):
    """The batch as a whole is malformed (Google answers 400 for all of it)."""


def answer(sim: Simulator, request: SimRequest) -> SimResponse | None:
    """The batch's answer; None when a fault dropped it (the work is done, the answer lost)."""
    try:
        inner = parse(request)
    except BatchRefused as refused:
        return error(400, "badRequest", str(refused))
    answered = [sim.dispatch_inner(part) for _, part in inner]
    if any(dropped for _, dropped in answered):
        return None
    boundary = f"batch_{secrets.token_hex(10)}"
    chunks = [_part(boundary, content_id, response) for (content_id, _), (response, _) in zip(inner, answered,
                                                                                            strict=True)]
    chunks.append(f"--{boundary}--\r\n".encode())
    return SimResponse(200, b"".join(chunks), {"Content-Type": f"multipart/mixed; boundary={boundary}"})


def parse(request: SimRequest) -> list[tuple[str, SimRequest]]:
    """Each inner request with its ``Content-ID`` (``item<n>`` when the part gives none)."""
    content_type = request.headers.get("content-type", "")
    if not content_type.lower().startswith("multipart/mixed") or "boundary=" not in content_type:
        raise BatchRefused("A batch request must be multipart/mixed with a boundary.")
    message = BytesParser(policy=HTTP).parsebytes(f"Content-Type: {content_type}\r\n\r\n".encode() + request.body)
    parts = list(message.iter_parts())
    if not parts:
        raise BatchRefused("A batch request must contain at least one request.")
    if len(parts) > MAX_CALLS:
        raise BatchRefused(f"A batch request may contain at most {MAX_CALLS} calls.")
    outer = {name: value for name, value in request.headers.items() if not name.startswith("content-")}
    inner: list[tuple[str, SimRequest]] = []
    for index, part in enumerate(parts):
        if part.get_content_type() != "application/http":
            raise BatchRefused("Each part of a batch request must be Content-Type: application/http.")
        body = part.get_payload(decode=True)
        if not isinstance(body, bytes):
            raise BatchRefused("A batch part carries no request.")
        content_id = str(part.get("Content-ID") or "").strip().strip("<>") or f"item{index}"
        inner.append((content_id, _request(body, outer)))
    return inner


def _request(message: bytes, outer: dict[str, str]) -> SimRequest:
    head, separator, body = message.partition(b"\r\n\r\n")
    if not separator:
        head, _, body = message.partition(b"\n\n")
    lines = head.decode("latin-1").splitlines()
    words = lines[0].split() if lines else []
    if len(words) != 3 or not words[2].startswith("HTTP/"):
        raise BatchRefused("A batch part must start with a request line (METHOD path HTTP/1.1).")
    method, target = words[0].upper(), words[1]
    url = urlsplit(target)
    if url.scheme or url.netloc:
        raise BatchRefused("A batched request gives the path of its URL only.")
    if not url.path.startswith(API_PREFIX):
        raise BatchRefused("Every request of a batch must go to the same API (calendar/v3).")
    headers = dict(outer)
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        if colon:
            headers[name.strip().lower()] = value.strip()
    body = body.rstrip(b"\r\n") if body.endswith(b"\r\n") else body
    return SimRequest(method=method, path=url.path, query=parse_qs(url.query, keep_blank_values=True),
                      headers=headers, body=body)


def _part(boundary: str, content_id: str, response: SimResponse) -> bytes:
    body, content_type = payload(response)
    reason = HTTPStatus(response.status).phrase if response.status in HTTPStatus._value2member_map_ else ""
    lines = [f"HTTP/1.1 {response.status} {reason}".rstrip()]
    lines += [f"{name}: {value}" for name, value in response.headers.items()]
    if content_type and "content-type" not in {name.lower() for name in response.headers}:
        lines.append(f"Content-Type: {content_type}")
    lines.append(f"Content-Length: {len(body)}")
    http = "\r\n".join(lines).encode() + b"\r\n\r\n" + body
    return (f"--{boundary}\r\nContent-Type: application/http\r\nContent-ID: <response-{content_id}>\r\n\r\n"
            .encode() + http + b"\r\n")
