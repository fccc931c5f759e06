"""The ``multipart/mixed`` batch format Google's APIs share: several HTTP requests in one body, each part an
``application/http`` message, and one answer per part in a ``multipart/mixed`` response.

Google's batch guide: every part carries a whole request (method, path — never a full URL — headers and
body); the outer request's headers (``Authorization``) apply to every part unless the part sets its own;
each answer part carries the ``Content-ID`` of its request, prefixed ``response-``; a set of *n* requests
counts as *n* against the quota. The inner answers come back as ``httpx.Response`` objects, so what each one
means is decided by ``calsync.http.outcomes`` exactly as for a single request.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any

import httpx


@dataclass(frozen=True)
class Part:
    """One inner request: ``path`` with its query string, relative to the API's host."""

    method: str
    path: str
    body: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)


class BatchFormatError(ValueError):
    """The answer is not the multipart response the request asked for."""


def encode(parts: Sequence[Part]) -> tuple[str, bytes]:
    """The content type (with its boundary) and the body of a batch of ``parts``."""
    boundary = f"batch_{secrets.token_hex(12)}"
    chunks: list[bytes] = []
    for index, part in enumerate(parts):
        payload = b"" if part.body is None else json.dumps(part.body, separators=(",", ":")).encode()
        lines = [f"{part.method} {part.path} HTTP/1.1"]
        lines += [f"{name}: {value}" for name, value in part.headers.items()]
        if part.body is not None:
            lines += ["Content-Type: application/json", f"Content-Length: {len(payload)}"]
        chunks.append(
            f"--{boundary}\r\nContent-Type: application/http\r\nContent-ID: <item{index}>\r\n\r\n".encode()
            + "\r\n".join(lines).encode() + b"\r\n\r\n" + payload + b"\r\n")
    chunks.append(f"--{boundary}--\r\n".encode())
    return f"multipart/mixed; boundary={boundary}", b"".join(chunks)


def decode(response: httpx.Response, count: int) -> list[httpx.Response]:
    """The inner answers of a batch of ``count`` requests, in request order (matched by ``Content-ID``)."""
    content_type = response.headers.get("content-type", "")
    if not content_type.lower().startswith("multipart/mixed"):
        raise BatchFormatError("the batch answer is not multipart/mixed")
    message = BytesParser(policy=HTTP).parsebytes(f"Content-Type: {content_type}\r\n\r\n".encode()
                                                  + response.content)
    answers: dict[int, httpx.Response] = {}
    for position, part in enumerate(message.iter_parts()):
        index = _index(str(part.get("Content-ID", "")), position)
        payload = part.get_payload(decode=True)
        if not isinstance(payload, bytes):
            raise BatchFormatError("a batch answer part has no HTTP message")
        answers[index] = _inner(payload)
    if sorted(answers) != list(range(count)):
        raise BatchFormatError(f"the batch answered {len(answers)} of {count} requests")
    return [answers[index] for index in range(count)]


def _index(content_id: str, position: int) -> int:
    """``<response-item7>`` → 7; without a usable Content-ID, the part's position (answers come in order)."""
    digits = content_id.strip("<>").rpartition("item")[2]
    return int(digits) if digits.isdigit() else position


def _inner(message: bytes) -> httpx.Response:
    head, _, body = message.partition(b"\r\n\r\n")
    if not _:
        head, _, body = message.partition(b"\n\n")
    lines = head.decode("latin-1").splitlines()
    if not lines or not lines[0].startswith("HTTP/"):
        raise BatchFormatError("a batch answer part is not an HTTP response")
    status = int(lines[0].split()[1])
    headers = [tuple(line.split(":", 1)) for line in lines[1:] if ":" in line]
    return httpx.Response(status, headers=[(name.strip(), value.strip()) for name, value in headers],
                          content=body.rstrip(b"\r\n") if body.endswith(b"\r\n") else body)
