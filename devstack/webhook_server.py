"""A local stand-in for API Gateway in front of the on_webhook function.

Each HTTP request becomes the HTTP API (payload 2.0) event API Gateway would send for the webhook routes
of template.yaml (:data:`ROUTES`); the real handler answers it in-process. A request no route matches
gets API Gateway's 404 ``Not Found``. Bodies that are not JSON or text arrive base64-encoded, as API
Gateway encodes binary payloads, so the handler's decoding path is exercised too.

    with WebhookServer() as server:
        httpx.post(server.url + "/webhooks/platforms/calendly/<tenant>", ...)
"""

from __future__ import annotations

import base64
import re
import threading
import uuid
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self

from devstack.lambda_runner import FakeLambdaContext
from devstack.ports import LOOPBACK

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]
ROUTES = (
    "/webhooks/platforms/{platform}/{tenant}/{secret}",
    "/webhooks/platforms/{platform}/{tenant}",
    "/webhooks/{provider}",
)
"""template.yaml's webhook routes, most specific first (as API Gateway picks them)."""
TEXT_TYPES = ("application/json", "text/plain")


def _match(path: str) -> tuple[str, dict[str, str]] | None:
    for route in ROUTES:
        names = re.findall(r"\{(\w+)\}", route)
        pattern = "^" + re.sub(r"\\\{\w+\\\}", "([^/]+)", re.escape(route)) + "$"
        found = re.match(pattern, path)
        if found:
            return route, dict(zip(names, found.groups(), strict=True))
    return None


def api_event(method: str, path: str, headers: dict[str, str], body: bytes, *,
              domain: str = "127.0.0.1") -> dict[str, Any] | None:
    """The event API Gateway sends for this request, or None when no webhook route matches it."""
    raw_path, _, query = path.partition("?")
    matched = _match(raw_path)
    if method != "POST" or matched is None:
        return None
    route, parameters = matched
    lowered = {name.lower(): value for name, value in headers.items()}
    textual = lowered.get("content-type", "").split(";")[0].strip() in TEXT_TYPES
    return {
        "version": "2.0",
        "routeKey": f"POST {route}",
        "rawPath": raw_path,
        "rawQueryString": query,
        "headers": lowered,
        "pathParameters": parameters,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "local",
            "domainName": domain,
            "domainPrefix": domain.split(".")[0],
            "http": {"method": method, "path": raw_path, "protocol": "HTTP/1.1", "sourceIp": LOOPBACK,
                     "userAgent": lowered.get("user-agent", "")},
            "requestId": str(uuid.uuid4()),
            "routeKey": f"POST {route}",
            "stage": "$default",
        },
        "body": body.decode("utf-8", "replace") if textual else base64.b64encode(body).decode("ascii"),
        "isBase64Encoded": not textual,
    }


def invoke(handler: Handler, event: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
    """Calls the handler the way Lambda would and returns the HTTP answer API Gateway would send."""
    context = FakeLambdaContext(function_name="calsync-on-webhook", memory_limit_in_mb=256,
                                invoked_function_arn="arn:aws:lambda:us-east-1:123456789012:function:on-webhook",
                                timeout_seconds=10)
    result = handler(event, context)
    body = result.get("body") or ""
    raw = base64.b64decode(body) if result.get("isBase64Encoded") else str(body).encode("utf-8")
    return int(result["statusCode"]), dict(result.get("headers") or {}), raw


def _default_handler() -> Handler:
    from functions.on_webhook.app import lambda_handler

    return lambda_handler


class WebhookServer:
    """A threaded HTTP server on 127.0.0.1 that serves the webhook routes through the real handler."""

    def __init__(self, handler: Handler | None = None, port: int = 0) -> None:
        self._handler = handler or _default_handler()
        self._server = ThreadingHTTPServer((LOOPBACK, port), self._request_class())
        self._thread = threading.Thread(target=self._server.serve_forever, name="webhook-server", daemon=True)

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self._server.server_address[1]}"

    def _request_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class WebhookRequestHandler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                headers = dict(self.headers.items())
                event = api_event(self.command, self.path, headers, body,
                                  domain=headers.get("Host", f"{LOOPBACK}:{server._server.server_address[1]}"))
                if event is None:
                    status, answer_headers, raw = 404, {"Content-Type": "application/json"}, b'{"message":"Not Found"}'
                else:
                    status, answer_headers, raw = invoke(server._handler, event)
                self.send_response(status)
                for name, value in answer_headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            do_POST = do_GET = do_PUT = _answer

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet: a webhook path may carry a tenant's secret."""

        return WebhookRequestHandler

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self._server.shutdown()
        self._server.server_close()
