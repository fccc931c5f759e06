"""The HTTP API of template.yaml on 127.0.0.1, shaped like API Gateway HTTP API (payload format 2.0).

Routes, methods, path parameters, target functions and authorisers are read from the template (the
``HttpApi`` events of each function, ``devstack.blueprint``): a route added there is served here the next
time the local deployment starts, with no second list. A request that no route takes gets API Gateway's
``404 {"message":"Not Found"}``; a handler that raises gets ``500 {"message":"Internal Server Error"}``.

``AWS_IAM`` routes take SigV4-signed requests (``devstack.sigv4``) from the local identities, one per
tenant, and put the caller into ``requestContext.authorizer.iam`` as API Gateway does, so a handler takes
the tenant from the caller's identity. Unsigned or wrongly signed requests get 403. What the local API
does not emulate (throttling, access logs, other authorisers) is listed in ``Blueprint.unsupported``.

    with LocalApi(functions, routes=blueprint().routes) as api:
        status, headers, body = api.invoke("GET", "/feeds/abc.ics", {})
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import logging
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qsl, urlsplit

from devstack import sigv4
from devstack.blueprint import IAM, NONE, RouteSpec
from devstack.functions import LocalFunction
from devstack.loopback_http import Answer, LoopbackHttpServer
from devstack.ports import LOOPBACK

log = logging.getLogger("devstack.api")

API_ID = "local"
NOT_FOUND = (404, {"Content-Type": "application/json"}, b'{"message":"Not Found"}')
FORBIDDEN = (403, {"Content-Type": "application/json"}, b'{"message":"Forbidden"}')
SERVER_ERROR = (500, {"Content-Type": "application/json"}, b'{"message":"Internal Server Error"}')


@dataclass(frozen=True)
class LocalIdentity:
    """A local IAM user allowed to call ``AWS_IAM`` routes for one tenant (throw-away keys, loopback only)."""

    tenant_id: str
    access_key_id: str
    secret_access_key: str
    account_id: str

    @property
    def user_name(self) -> str:
        return f"calsync-tenant-{self.tenant_id}"  # the integration API's naming rule (CALSYNC_API_CALLER_PREFIX)

    @property
    def user_id(self) -> str:
        return "AIDA" + self.access_key_id[4:]

    @property
    def user_arn(self) -> str:
        return f"arn:aws:iam::{self.account_id}:user/calsync-local/{self.user_name}"

    def authorizer(self) -> dict[str, Any]:
        """``requestContext.authorizer.iam`` as API Gateway fills it for an IAM user."""
        return {"accessKey": self.access_key_id, "accountId": self.account_id, "callerId": self.user_id,
                "cognitoIdentity": None, "principalOrgId": None, "userArn": self.user_arn, "userId": self.user_id}


def local_identity(tenant_id: str, account_id: str) -> LocalIdentity:
    """The deterministic local identity of a tenant (so the sheet and the tests agree on it)."""
    tag = hashlib.sha256(tenant_id.encode()).hexdigest()[:11].upper()  # distinct for every tenant
    return LocalIdentity(tenant_id, f"AKIALOCAL{tag}"[:20], f"local-secret-{tenant_id}", account_id)


class LocalApi:
    """A threaded HTTP server on 127.0.0.1 that routes like the template's HTTP API."""

    def __init__(self, functions: Mapping[str, LocalFunction], *, routes: Sequence[RouteSpec], port: int = 0,
                 region: str = "us-east-1", account_id: str = "123456789012",
                 identities: Iterable[LocalIdentity] = ()) -> None:
        # most specific first, as API Gateway chooses: literal paths, then fewer and non-greedy variables
        self.routes = sorted(routes, key=lambda route: route.specificity)
        self._functions = functions
        self._region = region
        self._account_id = account_id
        self.identities = {identity.access_key_id: identity for identity in identities}
        self.requests: list[tuple[str, int]] = []  # (routeKey or "-", status), never a path: feed tokens
        self._http = LoopbackHttpServer("local-api", lambda method, target, headers, body: self.invoke(
            method, target, headers, body), port=port)

    @property
    def port(self) -> int:
        return self._http.port

    @property
    def base_url(self) -> str:
        return self._http.base_url

    def add_identity(self, identity: LocalIdentity) -> None:
        self.identities[identity.access_key_id] = identity

    # -- one request ------------------------------------------------------------------------------

    def invoke(self, method: str, target: str, headers: Mapping[str, str], body: bytes = b"") -> Answer:
        """Routes one request (``target`` is the path with its query) and returns (status, headers, body)."""
        url = urlsplit(target)
        lowered = {name.lower(): value for name, value in headers.items()}
        for route in self.routes:
            parameters = route.match(method.upper(), url.path)
            if parameters is not None:
                break
        else:
            self.requests.append(("-", 404))
            return NOT_FOUND
        answer = self._answer(route, parameters, method.upper(), url.path, url.query, lowered, body)
        self.requests.append((route.route_key, answer[0]))
        return answer

    def _answer(self, route: RouteSpec, parameters: dict[str, str], method: str, path: str, query: str,
                headers: dict[str, str], body: bytes) -> Answer:
        identity: LocalIdentity | None = None
        if route.authorizer == IAM:
            try:
                key = sigv4.verify(method, path, query, headers, body,
                                   secrets={k: i.secret_access_key for k, i in self.identities.items()},
                                   region=self._region)
            except sigv4.SignatureError as refused:
                return 403, {"Content-Type": "application/json"}, json.dumps({"message": str(refused)}).encode()
            identity = self.identities[key]
        elif route.authorizer != NONE:
            return FORBIDDEN  # an authoriser the local API cannot run refuses rather than opens the route
        event = self.event(route, parameters, method, path, query, headers, body, identity)
        try:
            result = self._functions[route.function].invoke(event)
        except Exception:
            log.exception("%s raised", route.function)
            return SERVER_ERROR
        return _response(result, method)

    def event(self, route: RouteSpec, parameters: dict[str, str], method: str, path: str, query: str,
              headers: dict[str, str], body: bytes, identity: LocalIdentity | None) -> dict[str, Any]:
        """The payload-2.0 event API Gateway sends for this request."""
        now = time.time()
        text: str | None
        try:
            text, encoded = (body.decode("utf-8"), False) if body else (None, False)
        except UnicodeDecodeError:
            text, encoded = base64.b64encode(body).decode("ascii"), True
        context: dict[str, Any] = {
            "accountId": self._account_id, "apiId": API_ID, "domainName": headers.get("host", LOOPBACK),
            "domainPrefix": API_ID,
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": LOOPBACK,
                     "userAgent": headers.get("user-agent", "")},
            "requestId": str(uuid.uuid4()), "routeKey": route.route_key, "stage": "$default",
            "time": dt.datetime.fromtimestamp(now, dt.UTC).strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(now * 1000),
        }
        if identity is not None:
            context["authorizer"] = {"iam": identity.authorizer()}
        event: dict[str, Any] = {
            "version": "2.0", "routeKey": route.route_key, "rawPath": path, "rawQueryString": query,
            "headers": {name: value for name, value in headers.items() if name != "cookie"},
            "requestContext": context, "isBase64Encoded": encoded,
        }
        if "cookie" in headers:
            event["cookies"] = [part.strip() for part in headers["cookie"].split(";")]
        if query:
            event["queryStringParameters"] = {}
            for name, value in parse_qsl(query, keep_blank_values=True):  # repeated names: comma-joined
                previous = event["queryStringParameters"].get(name)
                event["queryStringParameters"][name] = value if previous is None else f"{previous},{value}"
        if parameters:
            event["pathParameters"] = parameters
        if text is not None:
            event["body"] = text
        return event

    # -- the server -------------------------------------------------------------------------------

    def start(self) -> Self:
        self._http.start()
        return self

    def stop(self) -> None:
        self._http.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.stop()


def _response(result: Any, method: str) -> Answer:
    """A payload-2.0 result as API Gateway turns it into HTTP: a dict with ``statusCode`` as given, anything
    else as a 200 JSON body."""
    if not isinstance(result, dict) or "statusCode" not in result:
        return 200, {"Content-Type": "application/json"}, json.dumps(result).encode()
    body = result.get("body") or ""
    raw = base64.b64decode(body) if result.get("isBase64Encoded") else str(body).encode("utf-8")
    headers = {str(name): str(value) for name, value in (result.get("headers") or {}).items()}
    if result.get("cookies"):
        headers["Set-Cookie"] = ", ".join(result["cookies"])
    return int(result["statusCode"]), headers, b"" if method == "HEAD" else raw
