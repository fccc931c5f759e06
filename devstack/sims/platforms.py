"""A simulator of the booking platforms' APIs calsync reads back from, and of calendar exports.

One HTTP server on 127.0.0.1; the first path segment names the platform, the rest is that platform's
own API path, so a source's ``api_base_url`` is ``<sim>/<platform>``:

    sim.require_headers("acuity", {"Authorization": "Basic ..."})   # anything else gets 401
    sim.put("acuity", "/api/v1/appointments/700001", {...})        # GET answers it as JSON
    sim.put("simplybook", "/admin#getBookingDetails#880001", {...}) # JSON-RPC: path#method#first param
    sim.put_export("okafor", ics_text)                              # GET /ics/okafor.ics, with ETag and
                                                                    # Last-Modified; a match answers 304

Unknown resources answer 404 (the platform has no such booking). Faults (429 with ``Retry-After``, 503)
come from :meth:`devstack.sims.http.Simulator.inject`. Nothing here is used by deployed code.
"""

from __future__ import annotations

import email.utils
import hashlib
import time
from dataclasses import dataclass
from typing import Any

from devstack.sims.http import SimRequest, SimResponse, Simulator


@dataclass
class Export:
    body: str
    etag: str
    last_modified: str


class PlatformSimulator(Simulator):
    name = "platforms"

    def __init__(self) -> None:
        super().__init__(tls=False)
        self._resources: dict[tuple[str, str], Any] = {}
        self._required: dict[str, dict[str, str]] = {}
        self._exports: dict[str, Export] = {}

    # -- set-up -----------------------------------------------------------------------------------------

    def base_url(self, platform: str) -> str:
        return f"{self.url}/{platform}"

    def export_url(self, name: str) -> str:
        return f"{self.url}/ics/{name}.ics"

    def require_headers(self, platform: str, headers: dict[str, str]) -> None:
        with self._lock:
            self._required[platform] = {name.lower(): value for name, value in headers.items()}

    def put(self, platform: str, path: str, body: Any) -> None:
        with self._lock:
            self._resources[(platform, path)] = body

    def remove(self, platform: str, path: str) -> None:
        with self._lock:
            self._resources.pop((platform, path), None)

    def put_export(self, name: str, body: str) -> None:
        with self._lock:
            etag = '"' + hashlib.sha256(body.encode()).hexdigest()[:16] + '"'
            self._exports[name] = Export(body, etag, email.utils.formatdate(time.time(), usegmt=True))

    # -- Simulator ----------------------------------------------------------------------------------------

    def clear_state(self) -> None:
        self._resources.clear()
        self._required.clear()
        self._exports.clear()

    def expire_access_tokens(self) -> None:
        """Platform credentials are static here; nothing expires."""

    def error_body(self, status: int, request: SimRequest) -> Any:
        return {"error": {"code": status, "message": "injected fault"}}

    def handle(self, request: SimRequest) -> SimResponse:
        platform, _, rest = request.path.lstrip("/").partition("/")
        path = f"/{rest}"
        if platform == "ics":
            return self._export(request, path)
        required = self._required.get(platform, {})
        if any(request.headers.get(name) != value for name, value in required.items()):
            return SimResponse(401, {"error": "unauthorized"})
        selectors = [f"{name}={values[0]}" for name, values in sorted(request.query.items())
                     if name != "properties"]  # which fields to return (HubSpot) does not pick the resource
        key = path + ("?" + "&".join(selectors) if selectors else "")
        if request.method == "POST":
            call = request.json() or {}
            params = call.get("params") or [None]
            found = self._resources.get((platform, f"{path}#{call.get('method')}#{params[0]}"))
            return SimResponse(200, {"jsonrpc": "2.0", "id": call.get("id"), "result": found})
        if request.method != "GET":
            return SimResponse(405, {"error": "method not allowed"})
        found = self._resources.get((platform, key))
        if found is None:
            return SimResponse(404, {"error": "not found"})
        return SimResponse(200, found)

    def _export(self, request: SimRequest, path: str) -> SimResponse:
        export = self._exports.get(path.strip("/").removesuffix(".ics"))
        if export is None:
            return SimResponse(404, "not found")
        headers = {"ETag": export.etag, "Last-Modified": export.last_modified,
                   "Content-Type": "text/calendar; charset=utf-8"}
        unchanged_since = request.headers.get("if-modified-since") == export.last_modified
        if request.headers.get("if-none-match") == export.etag or (
                "if-none-match" not in request.headers and unchanged_since):
            return SimResponse(304, None, headers)
        return SimResponse(200, export.body, headers)
