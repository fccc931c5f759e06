"""A webhook receiver for tests of the simulators' notifications: a loopback HTTP(S) server that records
every request and answers as it is told.

By default it behaves like a well-made endpoint: a Graph validation request (``?validationToken=...``)
gets 200 ``text/plain`` with the decoded token, anything else 202. Set :attr:`WebhookReceiver.answer` to
answer otherwise (a status, a slow answer, a wrong echo). Over TLS its certificate comes from its own
throw-away CA (:attr:`WebhookReceiver.ca_bundle`): hand that to ``sim.push.trust``.
"""

from __future__ import annotations

import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

from devstack.ports import LOOPBACK
from devstack.sims.http import loopback_tls


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def param(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes = b""
    content_type: str = "text/plain; charset=utf-8"
    delay: float = 0.0


def well_behaved(request: Received) -> Answer:
    token = request.param("validationToken")
    if token is not None:
        return Answer(200, token.encode())
    return Answer(202)


class WebhookReceiver:
    def __init__(self, *, tls: bool = False) -> None:
        self.tls = tls
        self.answer: Callable[[Received], Answer] = well_behaved
        self.ca_bundle: Path | None = None
        self._received: list[Received] = []
        self._cond = threading.Condition()
        self._server: ThreadingHTTPServer | None = None

    def start(self) -> Self:
        server = ThreadingHTTPServer((LOOPBACK, 0), _Handler)
        server.daemon_threads = True
        server.receiver = self  # type: ignore[attr-defined]
        if self.tls:
            context, self.ca_bundle = loopback_tls(Path(tempfile.mkdtemp(prefix="calsync-receiver-")))
            server.socket = context.wrap_socket(server.socket, server_side=True)
        self._server = server
        threading.Thread(target=server.serve_forever, args=(0.05,), name="webhook-receiver", daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self._server is not None, "the receiver is not running"
        return f"{'https' if self.tls else 'http'}://{LOOPBACK}:{self._server.server_address[1]}"

    @property
    def received(self) -> list[Received]:
        with self._cond:
            return list(self._received)

    def clear(self) -> None:
        with self._cond:
            self._received.clear()

    def wait_for(self, count: int, timeout: float = 10.0,
                 where: Callable[[Received], bool] = lambda _r: True) -> list[Received]:
        """Waits until ``count`` requests (matching ``where``) have arrived; returns them all."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(found := [r for r in self._received if where(r)]) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"{len(found)} of {count} requests arrived within {timeout} s")
                self._cond.wait(left)
            return found

    def record(self, request: Received) -> Answer:
        with self._cond:
            self._received.append(request)
            self._cond.notify_all()
        return self.answer(request)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        url = urlsplit(self.path)
        request = Received(self.command, url.path, parse_qs(url.query, keep_blank_values=True),
                           {k.lower(): v for k, v in self.headers.items()}, self.rfile.read(length) if length else b"")
        receiver: WebhookReceiver = self.server.receiver  # type: ignore[attr-defined]
        answer = receiver.record(request)
        if answer.delay:
            time.sleep(answer.delay)
        self.send_response(answer.status)
        self.send_header("Content-Type", answer.content_type)
        self.send_header("Content-Length", str(len(answer.body)))
        self.end_headers()
        self.wfile.write(answer.body)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""
