"""A threaded HTTP server on 127.0.0.1 that hands every request to one function: what the local HTTP API
and the console share.

    server = LoopbackHttpServer("local-api", answer)   # answer(method, target, headers, body) -> Answer
    with server:
        ...
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self

from devstack.ports import LOOPBACK

Answer = tuple[int, dict[str, str], bytes]
"""(status, headers, body)."""
Responder = Callable[[str, str, dict[str, str], bytes], Answer]
"""(method, path with query, headers as sent, body) → the answer."""


class LoopbackHttpServer:
    def __init__(self, name: str, respond: Responder, *, port: int = 0) -> None:
        self.name = name
        self._server = ThreadingHTTPServer((LOOPBACK, port), _request_class(respond))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name=name, daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def start(self) -> Self:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stops serving and closes the listening socket; safe to call more than once."""
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join(timeout=5)
        self._server.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.stop()


def _request_class(respond: Responder) -> type[BaseHTTPRequestHandler]:
    class LoopbackRequestHandler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms delayed-ACK stall

        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            status, headers, payload = respond(self.command, self.path, dict(self.headers.items()), body)
            self.send_response(status)
            for name, value in headers.items():
                if name.lower() not in ("content-length", "connection"):
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if self.command != "HEAD" and status != 304:
                self.wfile.write(payload)

        do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = _answer

        def __getattr__(self, name: str) -> Any:
            """Any other method too (TRACE, QUERY, ...): the routes decide, as API Gateway's ANY routes do."""
            if name.startswith("do_"):
                return self._answer
            raise AttributeError(name)

        def log_message(self, format: str, *args: Any) -> None:
            """Silent: request lines would carry feed tokens (the template's access log never logs paths)."""

    return LoopbackRequestHandler
