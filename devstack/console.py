"""The local deployment's console on 127.0.0.1: invoke a function now, look into and switch the simulators.

- ``POST /2015-03-31/functions/{name}/invocations`` is Lambda's Invoke API (as ``sam local start-lambda``
  serves it), so ``aws lambda invoke --endpoint-url <console> --function-name calsync-local-retry-sweeper
  /dev/stdout`` runs the sweeper now. An empty payload to a scheduled function becomes its schedule's event.
- ``GET /simulators/{google|microsoft}/events?calendar=...`` (Microsoft: ``&user=...``) lists what a
  simulated calendar holds; ``GET /simulators/{name}/requests`` the calls it received (method, path, status);
  ``POST /simulators/{name}/faults`` with ``{"status": 503, "path_contains": "/events", "times": 1}``
  switches a provider fault on (the arguments of ``Simulator.inject``).
- ``GET /figures`` (and ``/figures.json``) shows the CloudWatch dashboard's figures computed from the local
  functions' logs (``devstack.figures``).

Nothing here is part of calsync; it exists so a person (or a test) can drive the local deployment with curl.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

from devstack.figures import Panel, as_html, as_json
from devstack.functions import LocalFunction
from devstack.loopback_http import Answer, LoopbackHttpServer
from devstack.sims.google import GoogleCalendarSimulator
from devstack.sims.http import Simulator
from devstack.sims.microsoft import MicrosoftGraphSimulator

log = logging.getLogger("devstack.console")

INVOKE_PREFIX = "/2015-03-31/functions/"
FAULT_FIELDS = {"status", "method", "path_contains", "body", "retry_after", "times", "drop_after_commit",
                "expire_tokens", "after"}


class Console:
    """Serves the Invoke API for ``functions`` and a console for each simulator in ``simulators``."""

    def __init__(self, functions: Mapping[str, LocalFunction], simulators: Mapping[str, Simulator], *,
                 port: int = 0, events_for: Mapping[str, Callable[[], dict[str, Any]]] | None = None,
                 figures: Callable[[], list[Panel]] | None = None) -> None:
        self._functions = {f.name: f for f in functions.values()} | dict(functions)
        self._figures = figures
        self._simulators = simulators
        self._events_for = events_for or {}  # function logical id → the event its trigger sends
        self._http = LoopbackHttpServer("console", lambda method, target, headers, body: self.handle(
            method, target, body), port=port)

    @property
    def port(self) -> int:
        return self._http.port

    @property
    def base_url(self) -> str:
        return self._http.base_url

    @property
    def figures_url(self) -> str:
        return f"{self.base_url}/figures"

    def simulator_url(self, name: str) -> str:
        return f"{self.base_url}/simulators/{name}"

    def handle(self, method: str, target: str, body: bytes) -> Answer:
        url = urlsplit(target)
        query = {name: values[0] for name, values in parse_qs(url.query).items()}
        parts = [part for part in url.path.split("/") if part]
        if method == "POST" and url.path.startswith(INVOKE_PREFIX) and url.path.endswith("/invocations"):
            return self._invoke(url.path[len(INVOKE_PREFIX):-len("/invocations")], body)
        if method == "GET" and url.path in ("/figures", "/figures.json") and self._figures is not None:
            found = self._figures()
            if url.path.endswith(".json"):
                return 200, {"Content-Type": "application/json"}, as_json(found)
            return 200, {"Content-Type": "text/html; charset=utf-8"}, as_html(found)
        if len(parts) == 3 and parts[0] == "simulators" and parts[1] in self._simulators:
            return self._simulator(self._simulators[parts[1]], method, parts[2], query, body)
        return _json(404, {"message": "Not Found", "see": [INVOKE_PREFIX + "{name}/invocations",
                                                          *(f"/simulators/{n}/events" for n in self._simulators)]})

    def _invoke(self, name: str, body: bytes) -> Answer:
        function = self._functions.get(name)
        if function is None:
            return _json(404, {"Type": "User", "Message": f"Function not found: {name}"},
                         {"x-amzn-ErrorType": "ResourceNotFoundException"})
        try:
            event = json.loads(body) if body.strip() else self._default_event(function)
        except ValueError:
            return _json(400, {"Type": "User", "Message": "Could not parse request body into json"},
                         {"x-amzn-ErrorType": "InvalidRequestContentException"})
        try:
            result = function.invoke(event)
        except Exception as error:  # Lambda: 200, with the error in the payload and X-Amz-Function-Error
            log.exception("%s raised", function.name)
            return _json(200, {"errorMessage": str(error), "errorType": type(error).__name__},
                         {"X-Amz-Function-Error": "Unhandled", "X-Amz-Executed-Version": "$LATEST"})
        return _json(200, result, {"X-Amz-Executed-Version": "$LATEST"})

    def _default_event(self, function: LocalFunction) -> dict[str, Any]:
        factory = self._events_for.get(function.spec.logical_id)
        return factory() if factory is not None else {}

    def _simulator(self, sim: Simulator, method: str, what: str, query: dict[str, str], body: bytes) -> Answer:
        if method == "GET" and what == "events":
            calendar = query.get("calendar")
            if isinstance(sim, GoogleCalendarSimulator) and calendar:
                return _json(200, sim.events(calendar))
            if isinstance(sim, MicrosoftGraphSimulator) and query.get("user"):
                return _json(200, sim.events(query["user"], calendar))
            return _json(400, {"message": "give ?calendar=<id> (Google) or ?user=<user>&calendar=<id> (Microsoft)"})
        if method == "GET" and what == "requests":
            return _json(200, [{"method": r.request.method, "path": r.request.path, "status": r.status}
                               for r in sim.requests])
        if method == "POST" and what == "faults":
            try:
                fault = json.loads(body or b"{}")
                unknown = set(fault) - FAULT_FIELDS
                if unknown:
                    raise ValueError(f"unknown fields {sorted(unknown)}")
                sim.inject(**fault)
            except (ValueError, TypeError) as error:
                return _json(400, {"message": f"not a fault: {error}", "fields": sorted(FAULT_FIELDS)})
            return _json(201, {"armed": fault})
        return _json(404, {"message": "Not Found"})

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


def _json(status: int, value: Any, headers: Mapping[str, str] | None = None) -> Answer:
    return status, {"Content-Type": "application/json", **(headers or {})}, json.dumps(value, default=str).encode()
