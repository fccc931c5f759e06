"""Graph's JSON batching: ``POST /v1.0/$batch`` with ``{"requests": [...]}``.

As Graph's JSON batching guide describes it: at most 20 requests; each has an ``id`` (unique in the batch),
a ``method`` and a ``url`` relative to the version root (``/me/events``), optional ``headers`` and a
``body`` (a JSON body needs a ``Content-Type`` header); ``dependsOn`` names earlier requests that must
succeed first, and a request whose dependency failed is answered 424 Failed Dependency. The answer is
``{"responses": [{"id", "status", "headers", "body"}]}``, not necessarily in request order. The batch's
``Authorization`` applies to each request. Each inner request is answered exactly as if it had come alone
(schema, scopes, faults, the request log): a batch can never get past what the single endpoints refuse.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs, urlsplit

from devstack.sims.http import SimRequest, SimResponse, Simulator
from devstack.sims.microsoft.views import graph_error

BATCH_PATH = "/v1.0/$batch"
VERSION_ROOT = "/v1.0"
MAX_REQUESTS = 20
METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE"})


def answer(sim: Simulator, request: SimRequest) -> SimResponse | None:
    """The batch's answer; None when a fault dropped an inner answer (the whole answer is then lost)."""
    body = request.json()
    requests = body.get("requests") if isinstance(body, dict) else None
    if not isinstance(requests, list) or not requests:
        return graph_error(400, "BadRequest", "The batch must carry a non-empty 'requests' array.")
    if len(requests) > MAX_REQUESTS:
        return graph_error(400, "BadRequest", f"A batch may carry at most {MAX_REQUESTS} requests.")
    problem = _problem(requests)
    if problem is not None:
        return graph_error(400, "BadRequest", problem)
    outcomes: dict[str, int] = {}
    responses: list[dict[str, Any]] = []
    for item in requests:
        item_id = str(item["id"])
        failed = [d for d in item.get("dependsOn") or [] if not 200 <= outcomes.get(str(d), 0) < 300]
        if failed:
            outcomes[item_id] = 424
            responses.append({"id": item_id, "status": 424,
                              "body": graph_error(424, "FailedDependency", "A request this one depends on failed.")
                              .body})
            continue
        inner, dropped = sim.dispatch_inner(_inner(request, item))
        if dropped:
            return None
        outcomes[item_id] = inner.status
        entry: dict[str, Any] = {"id": item_id, "status": inner.status, "headers": dict(inner.headers)}
        if inner.body is not None:
            entry["body"] = inner.body
            entry["headers"].setdefault("Content-Type", "application/json")
        responses.append(entry)
    return SimResponse(200, {"responses": list(reversed(responses))})  # Graph keeps no order: neither do we


def _problem(requests: list[Any]) -> str | None:
    seen: set[str] = set()
    for item in requests:
        if not isinstance(item, dict) or not isinstance(item.get("id"), str) or not item["id"]:
            return "Each request needs a non-empty string 'id'."
        if item["id"] in seen:
            return f"Request id {item['id']} appears twice."
        if str(item.get("method", "")).upper() not in METHODS:
            return f"Request {item['id']}: unsupported method."
        url = item.get("url")
        if not isinstance(url, str) or urlsplit(url).scheme or urlsplit(url).netloc:
            return f"Request {item['id']}: 'url' must be relative to the version root."
        if url.lstrip("/").startswith("$batch"):
            return "A batch cannot contain a batch."
        headers = {str(k).lower(): v for k, v in (item.get("headers") or {}).items()}
        if "body" in item and "content-type" not in headers:
            return f"Request {item['id']}: a body needs a Content-Type header."
        for dependency in item.get("dependsOn") or []:
            if str(dependency) not in seen:
                return f"Request {item['id']} depends on {dependency}, which does not come before it."
        seen.add(item["id"])
    return None


def _inner(outer: SimRequest, item: dict[str, Any]) -> SimRequest:
    url = urlsplit("/" + str(item["url"]).lstrip("/"))
    headers = {"authorization": outer.headers.get("authorization", "")}
    headers.update({str(name).lower(): str(value) for name, value in (item.get("headers") or {}).items()})
    body = item.get("body")
    raw = json.dumps(body).encode() if body is not None else b""
    return SimRequest(method=str(item["method"]).upper(), path=VERSION_ROOT + url.path,
                      query=parse_qs(url.query, keep_blank_values=True), headers=headers, body=raw)
