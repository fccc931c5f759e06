"""What the Google and Microsoft simulators share: a threaded HTTP(S) server on 127.0.0.1 (the kernel
picks the port), a log of every request received, injectable faults, and a clock tests can move.

Faults are queued with :meth:`Simulator.inject` and consumed by the requests they match, in order:

    sim.inject(status=429, retry_after=2, times=3)          # the next three API calls are throttled
    sim.inject(path_contains="/token", status=503)          # the token endpoint fails once
    sim.inject(method="POST", drop_after_commit=True)       # the next POST is carried out, but its
                                                            # answer is lost (the connection closes)
    sim.inject(expire_tokens=True, after=3)                 # every access token expires just before the
                                                            # fourth API call from now (which gets 401)

Request log: ``sim.requests`` (every request with the status answered), ``sim.calls(method, path_contains)``
to filter it, ``sim.forget_requests()``. Time: ``sim.clock.advance(seconds)`` moves the simulator's "now"
(token, code, channel and subscription lifetimes all read it) without waiting.

Nothing here is used by deployed code.
"""

from __future__ import annotations

import base64
import json
import shutil
import ssl
import tempfile
import threading
import time
import traceback
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qs, unquote_plus, urlsplit

from devstack.ports import LOOPBACK


@dataclass(frozen=True)
class SimRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def param(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None

    def form(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(self.body.decode(), keep_blank_values=True).items()}

    @property
    def bearer(self) -> str | None:
        scheme, _, token = self.headers.get("authorization", "").partition(" ")
        return token if scheme.lower() == "bearer" and token else None

    @property
    def basic(self) -> tuple[str, str] | None:
        scheme, _, encoded = self.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "basic":
            return None
        user, _, password = base64.b64decode(encoded).decode().partition(":")
        return unquote_plus(user), unquote_plus(password)


@dataclass
class SimResponse:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


ANSWER_LOST = SimResponse(0)
"""What a handler returns when the work is done but its answer must be lost (a batch one of whose inner
requests had a ``drop_after_commit`` fault): the connection closes without an answer."""


@dataclass(frozen=True)
class Deferred:
    """An answer that needs outbound calls first (Graph's validation handshake): ``run`` is called
    without the simulator's lock, so the far end may call back in; it takes the lock itself to write."""

    run: Callable[[], SimResponse]


class Clock:
    """The simulator's wall clock: real time plus an offset that tests advance instead of sleeping."""

    def __init__(self) -> None:
        self.offset = 0.0

    def now(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds

    def reset(self) -> None:
        self.offset = 0.0


def loopback_tls(directory: Path) -> tuple[ssl.SSLContext, Path]:
    """A server context for 127.0.0.1/localhost signed by a throw-away CA, and that CA's PEM file."""
    import trustme

    authority = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert(LOOPBACK, "localhost").configure_cert(context)
    bundle = directory / "ca.pem"
    authority.cert_pem.write_to_path(str(bundle))
    return context, bundle


class Html(str):
    """A response body to serve as ``text/html``."""


@dataclass(frozen=True)
class Recorded:
    """One request as received, and the status answered (None: the answer was dropped)."""

    request: SimRequest
    status: int | None


@dataclass
class Fault:
    method: str | None
    path_contains: str | None
    status: int | None
    body: Any
    retry_after: int | None
    times: int
    drop_after_commit: bool
    expire_tokens: bool = False
    after: int = 0

    def matches(self, request: SimRequest) -> bool:
        return (self.method is None or self.method == request.method) and (
            self.path_contains is None or self.path_contains in request.path)


class Simulator(ABC):
    """A provider simulator: subclasses implement :meth:`handle` and :meth:`clear_state`."""

    name = "simulator"

    def __init__(self, *, tls: bool = False) -> None:
        self._lock = threading.RLock()
        self._faults: list[Fault] = []
        self._requests: list[Recorded] = []
        self._tls = tls
        self._tmp = Path(tempfile.mkdtemp(prefix=f"calsync-{self.name}-"))
        self.ca_bundle: Path | None = None
        # where the provider would send its push notifications: the local API's webhook route, when running
        self.webhook_base_url: str | None = None
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.clock = Clock()

    # -- lifecycle ----------------------------------------------------------------------------------

    def start(self) -> Self:
        server = ThreadingHTTPServer((LOOPBACK, 0), _Handler)
        server.daemon_threads = True
        server.simulator = self  # type: ignore[attr-defined]
        if self._tls:
            server.socket = self._tls_context().wrap_socket(server.socket, server_side=True,
                                                            do_handshake_on_connect=False)
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, name=self.name, daemon=True)
        self._thread.start()
        return self

    def _tls_context(self) -> ssl.SSLContext:
        context, self.ca_bundle = loopback_tls(self._tmp)
        return context

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        shutil.rmtree(self._tmp, ignore_errors=True)  # the throw-away CA goes with the simulator

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.stop()

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError(f"{self.name} is not running")
        return f"{'https' if self._tls else 'http'}://{LOOPBACK}:{self._server.server_address[1]}"

    # -- switches and inspection --------------------------------------------------------------------

    def inject(self, *, status: int | None = None, method: str | None = None, path_contains: str | None = None,
               body: Any = None, retry_after: int | None = None, times: int = 1, drop_after_commit: bool = False,
               expire_tokens: bool = False, after: int = 0) -> None:
        """Queues a fault for ``times`` matching requests, once ``after`` matching ones have passed
        (see the module docstring). API faults should name a ``path_contains`` when tokens may be
        refreshed meanwhile, or the token endpoint's requests count too."""
        if status is None and not drop_after_commit and not expire_tokens:
            raise ValueError("a fault needs a status, drop_after_commit or expire_tokens")
        with self._lock:
            self._faults.append(Fault(method, path_contains, status, body, retry_after, times, drop_after_commit,
                                      expire_tokens, after))

    def reset(self) -> None:
        """Forgets every request, fault and stored object (tokens, clients and calendars too)."""
        with self._lock:
            self._faults.clear()
            self._requests.clear()
            self.clock.reset()
            self.clear_state()

    def forget_requests(self) -> None:
        with self._lock:
            self._requests.clear()

    @property
    def requests(self) -> list[Recorded]:
        with self._lock:
            return list(self._requests)

    def calls(self, method: str | None = None, path_contains: str | None = None) -> list[Recorded]:
        """The logged requests with this method and a path containing ``path_contains``, in order."""
        return [r for r in self.requests if (method is None or r.request.method == method)
                and (path_contains is None or path_contains in r.request.path)]

    # -- dispatch -----------------------------------------------------------------------------------

    def dispatch(self, request: SimRequest) -> SimResponse | None:
        try:
            planned, drop = self._answer(request)
            answer = planned.run() if isinstance(planned, Deferred) else planned
        except Exception as failure:  # a simulator bug: say so loudly rather than drop the connection
            traceback.print_exc()
            planned, drop = SimResponse(500, {"error": f"simulator failure: {failure!r}"}), False
            answer = planned
        drop = drop or answer is ANSWER_LOST
        with self._lock:
            self._requests.append(Recorded(request, None if drop else answer.status))
        return None if drop else answer  # dropped: the work is done, the answer is lost

    def dispatch_inner(self, request: SimRequest) -> tuple[SimResponse, bool]:
        """One request of a batch, answered as if it had come alone (faults, validation, the request log);
        returns the answer and whether a fault meant to drop it (the batch's answer is then lost)."""
        planned, drop = self._answer(request)
        answer = planned.run() if isinstance(planned, Deferred) else planned
        with self._lock:
            self._requests.append(Recorded(request, None if drop else answer.status))
        return answer, drop

    def _answer(self, request: SimRequest) -> tuple[SimResponse | Deferred, bool]:
        with self._lock:
            fault = None
            for candidate in [f for f in self._faults if f.matches(request)]:
                if candidate.after > 0:
                    candidate.after -= 1
                elif fault is None:
                    fault = candidate
            if fault is not None:
                fault.times -= 1
                if fault.times <= 0:
                    self._faults.remove(fault)
                if fault.expire_tokens:
                    self.expire_access_tokens()
            if fault is not None and fault.status is not None:
                return self.fault_response(fault, request), False
            return self.handle(request), fault is not None and fault.drop_after_commit

    def fault_response(self, fault: Fault, request: SimRequest) -> SimResponse:
        assert fault.status is not None
        headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
        body = fault.body if fault.body is not None else self.error_body(fault.status, request)
        return SimResponse(fault.status, body, headers)

    @abstractmethod
    def expire_access_tokens(self) -> None:
        """Every access token issued so far is expired from now on."""

    @abstractmethod
    def error_body(self, status: int, request: SimRequest) -> Any:
        """The provider's error body for an injected status (an API or a token endpoint one)."""

    @abstractmethod
    def handle(self, request: SimRequest) -> SimResponse | Deferred:
        """Answers one request (called under the simulator's lock: one request at a time)."""

    @abstractmethod
    def clear_state(self) -> None:
        """Drops stored events, tokens, clients."""


def payload(response: SimResponse) -> tuple[bytes, str | None]:
    """A response body as bytes, and the content type it is sent with (unless its headers name one)."""
    if response.body is None:
        return b"", None
    if isinstance(response.body, Html):
        return str(response.body).encode(), "text/html; charset=utf-8"
    if isinstance(response.body, bytes | str):
        return (response.body.encode() if isinstance(response.body, str) else response.body,
                "text/plain; charset=utf-8")
    return json.dumps(response.body).encode(), "application/json; charset=UTF-8"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms delayed-ACK stall

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        url = urlsplit(self.path)
        request = SimRequest(method=self.command, path=url.path,
                             query=parse_qs(url.query, keep_blank_values=True),
                             headers={k.lower(): v for k, v in self.headers.items()}, body=body)
        simulator: Simulator = self.server.simulator  # type: ignore[attr-defined]
        response = simulator.dispatch(request)
        if response is None:  # the work is done, the answer is lost
            self.close_connection = True
            return
        body, content_type = payload(response)
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        if content_type and "content-type" not in {k.lower() for k in response.headers}:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body and self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _serve

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the simulator's request log is the record."""
