"""What the Google and Microsoft simulators share: a threaded HTTP(S) server on 127.0.0.1 (the kernel
picks the port), a log of every request received, injectable faults, and an OAuth token book.

Faults are queued with :meth:`Simulator.inject` and consumed by the requests they match, in order:

    sim.inject(status=429, retry_after=2, times=3)          # the next three API calls are throttled
    sim.inject(path_contains="/token", status=503)          # the token endpoint fails once
    sim.inject(method="POST", drop_after_commit=True)       # the next POST is carried out, but its
                                                            # answer is lost (the connection closes)
    sim.inject(expire_tokens=True, after=3)                 # every access token expires just before the
                                                            # fourth API call from now (which gets 401)

Nothing here is used by deployed code.
"""

from __future__ import annotations

import base64
import json
import secrets
import shutil
import ssl
import tempfile
import threading
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

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
        from urllib.parse import unquote_plus

        return unquote_plus(user), unquote_plus(password)


@dataclass
class SimResponse:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


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
        import trustme

        self._tmp.mkdir(parents=True, exist_ok=True)
        authority = trustme.CA()
        authority.issue_cert(LOOPBACK, "localhost").configure_cert(context := ssl.create_default_context(
            ssl.Purpose.CLIENT_AUTH))
        self.ca_bundle = self._tmp / "ca.pem"
        authority.cert_pem.write_to_path(str(self.ca_bundle))
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
            self.clear_state()

    def forget_requests(self) -> None:
        with self._lock:
            self._requests.clear()

    @property
    def requests(self) -> list[Recorded]:
        with self._lock:
            return list(self._requests)

    # -- dispatch -----------------------------------------------------------------------------------

    def dispatch(self, request: SimRequest) -> SimResponse | None:
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
                response: SimResponse | None = self.fault_response(fault, request)
            else:
                response = self.handle(request)
                if fault is not None and fault.drop_after_commit:
                    response = None
            self._requests.append(Recorded(request, response.status if response is not None else None))
            return response

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
    def handle(self, request: SimRequest) -> SimResponse:
        """Answers one request (called under the simulator's lock: one request at a time)."""

    @abstractmethod
    def clear_state(self) -> None:
        """Drops stored events, tokens, clients."""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

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
        if response.body is None:
            payload, content_type = b"", None
        elif isinstance(response.body, bytes | str):
            payload = response.body.encode() if isinstance(response.body, str) else response.body
            content_type = "text/plain; charset=utf-8"
        else:
            payload, content_type = json.dumps(response.body).encode(), "application/json; charset=UTF-8"
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        if content_type and "content-type" not in {k.lower() for k in response.headers}:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if payload and self.command != "HEAD":
            self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the simulator's request log is the record."""


# -- OAuth ----------------------------------------------------------------------------------------------

@dataclass
class Grant:
    """One consent: a user (or, with client credentials, a tenant) granting a client access."""

    client_id: str
    subject: str
    tenant: str = ""
    scope: str = ""
    application: bool = False
    revoked: bool = False


class TokenBook:
    """Clients, refresh tokens and access tokens of one simulated identity provider."""

    def __init__(self, access_lifetime_seconds: int = 3600) -> None:
        self.access_lifetime_seconds = access_lifetime_seconds
        self.clients: dict[str, str] = {}
        self._refresh: dict[str, Grant] = {}
        self._access: dict[str, tuple[Grant, float]] = {}

    def register_client(self, client_id: str, client_secret: str) -> None:
        self.clients[client_id] = client_secret

    def client_ok(self, client_id: str | None, client_secret: str | None) -> bool:
        return client_id is not None and client_secret is not None and self.clients.get(client_id) == client_secret

    def consent(self, client_id: str, subject: str, *, tenant: str = "", scope: str = "") -> str:
        """A fresh refresh token, as an authorization-code exchange would return it."""
        return self._new_refresh(Grant(client_id, subject, tenant, scope))

    def _new_refresh(self, grant: Grant) -> str:
        token = f"rt-{secrets.token_urlsafe(24)}"
        self._refresh[token] = grant
        return token

    def redeem(self, refresh_token: str | None, client_id: str | None) -> Grant | None:
        """The grant behind a refresh token, if it is known, not revoked and issued to this client."""
        grant = self._refresh.get(refresh_token or "")
        return grant if grant is not None and not grant.revoked and grant.client_id == client_id else None

    def rotate(self, refresh_token: str) -> str:
        """The next refresh token of the same grant (the old one stays valid, as Microsoft does)."""
        return self._new_refresh(self._refresh[refresh_token])

    def issue(self, grant: Grant) -> tuple[str, int]:
        token = f"at-{secrets.token_urlsafe(24)}"
        self._access[token] = (grant, time.time() + self.access_lifetime_seconds)
        return token, self.access_lifetime_seconds

    def application_grant(self, client_id: str, tenant: str) -> Grant:
        return Grant(client_id, subject=f"app:{client_id}", tenant=tenant, application=True)

    def bearer(self, token: str | None) -> Grant | None:
        """The grant behind a live access token, else None (unknown, expired or revoked)."""
        entry = self._access.get(token or "")
        if entry is None or entry[1] <= time.time() or entry[0].revoked:
            return None
        return entry[0]

    def expire_access_tokens(self) -> None:
        """Every access token issued so far is now expired (the next API call answers 401)."""
        self._access = {token: (grant, 0.0) for token, (grant, _) in self._access.items()}

    def revoke(self, subject: str | None = None) -> None:
        """Revokes the consent of ``subject`` (everyone's without one): its refresh and access tokens die."""
        for grant in {id(g): g for g in self._refresh.values()}.values():
            if subject is None or grant.subject == subject:
                grant.revoked = True
        for grant, _ in self._access.values():
            if subject is None or grant.subject == subject:
                grant.revoked = True

    def live_refresh_tokens(self, subject: str) -> list[str]:
        return [t for t, g in self._refresh.items() if g.subject == subject and not g.revoked]

    def clear(self) -> None:
        self.clients.clear()
        self._refresh.clear()
        self._access.clear()


class OAuthSimulator(Simulator):
    """A simulator with an OAuth token endpoint: the consent switches every provider offers."""

    tokens: TokenBook

    def revoke(self, user: str | None = None) -> None:
        """The clinician (or an admin) removed calsync's access: refresh tokens now get ``invalid_grant``."""
        with self._lock:
            self.tokens.revoke(user)

    def expire_access_tokens(self) -> None:
        """Every access token handed out so far is now expired (the next API call gets 401)."""
        with self._lock:
            self.tokens.expire_access_tokens()
