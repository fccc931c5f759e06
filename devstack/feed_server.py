"""A local stand-in for API Gateway in front of the feed function, so real calendar clients can
subscribe to ``http://127.0.0.1:<port>/feeds/<token>.ics``.

Each HTTP request becomes the HTTP API (payload 2.0) event API Gateway would send for the routes
``GET /feeds/{file}`` and ``HEAD /feeds/{file}``; the real handler answers it in-process. Other paths
and methods get what API Gateway gives for an unmatched route (404 ``Not Found``).

    with FeedServer() as server:
        url = server.url_for(token)
"""

from __future__ import annotations

import base64
import gzip
import threading
import uuid
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self

from devstack.lambda_runner import FakeLambdaContext
from devstack.ports import LOOPBACK

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]
ROUTE_PREFIX = "/feeds/"
METHODS = ("GET", "HEAD")


def api_event(method: str, path: str, headers: dict[str, str]) -> dict[str, Any] | None:
    """The event API Gateway sends for this request, or None when no feed route matches it."""
    raw_path = path.split("?", 1)[0]
    file_name = raw_path[len(ROUTE_PREFIX):] if raw_path.startswith(ROUTE_PREFIX) else ""
    if method not in METHODS or not file_name or "/" in file_name:
        return None
    return {
        "version": "2.0",
        "routeKey": f"{method} /feeds/{{file}}",
        "rawPath": raw_path,
        "rawQueryString": path.split("?", 1)[1] if "?" in path else "",
        "headers": {name.lower(): value for name, value in headers.items()},
        "pathParameters": {"file": file_name},
        "requestContext": {
            "http": {"method": method, "path": raw_path, "protocol": "HTTP/1.1", "sourceIp": LOOPBACK,
                     "userAgent": headers.get("User-Agent", "")},
            "requestId": str(uuid.uuid4()),
            "routeKey": f"{method} /feeds/{{file}}",
            "stage": "$default",
        },
        "isBase64Encoded": False,
    }


def _default_handler() -> Handler:
    from functions.feed.app import lambda_handler

    return lambda_handler


class FeedServer:
    """A threaded HTTP server on 127.0.0.1 that serves feeds through the feed Lambda handler.

    ``rewrite`` (tests only) may change a 200 body before it is sent, to show how clients react to
    a document calsync does not produce.
    """

    def __init__(self, handler: Handler | None = None, port: int = 0,
                 rewrite: Callable[[bytes], bytes] | None = None) -> None:
        self._handler = handler or _default_handler()
        self._rewrite = rewrite
        self.requests: list[tuple[str, int]] = []  # (method, status), for assertions
        self._server = ThreadingHTTPServer((LOOPBACK, port), self._request_class())
        self._thread = threading.Thread(target=self._server.serve_forever, name="feed-server", daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def url_for(self, token: str) -> str:
        return f"http://{LOOPBACK}:{self.port}{ROUTE_PREFIX}{token}.ics"

    def invoke(self, method: str, path: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        event = api_event(method, path, headers)
        if event is None:
            return 404, {"Content-Type": "application/json"}, b'{"message":"Not Found"}'
        context = FakeLambdaContext(function_name="calsync-feed", memory_limit_in_mb=512,
                                    invoked_function_arn="arn:aws:lambda:us-east-1:123456789012:function:calsync-feed",
                                    timeout_seconds=10)
        result = self._handler(event, context)
        body = result.get("body", "")
        raw = base64.b64decode(body) if result.get("isBase64Encoded") else str(body).encode("utf-8")
        status = int(result["statusCode"])
        headers = dict(result.get("headers", {}))
        if self._rewrite is not None and status == 200 and method == "GET":
            zipped = headers.get("Content-Encoding") == "gzip"
            raw = self._rewrite(gzip.decompress(raw) if zipped else raw)
            raw = gzip.compress(raw) if zipped else raw
        return status, headers, raw

    def _request_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class FeedRequestHandler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _answer(self) -> None:
                status, headers, body = server.invoke(self.command, self.path, dict(self.headers.items()))
                server.requests.append((self.command, status))
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD" and status != 304:
                    self.wfile.write(body)

            do_GET = _answer
            do_HEAD = _answer
            do_POST = _answer

            def log_message(self, format: str, *args: Any) -> None:
                """Silent: request lines would carry feed tokens."""

        return FeedRequestHandler

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
