"""A Google Calendar API v3 and Google OAuth token endpoint simulator, for the subset calsync uses.

Request bodies and query parameters are held to Google's published schema, not to calsync's idea
of it: the discovery document for Calendar v3 that ``google-api-python-client`` ships
(``googleapiclient/discovery_cache/documents/calendar.v3.json``, a dev dependency only) defines the
Event resource and every method's parameters, and anything it does not name is refused with 400.

Semantics kept (Google's Calendar v3 reference): client-chosen ids (base32hex, 5-1024 characters, unique per
calendar, and refused with 409 ``duplicate`` even after the event was deleted); ``events.get`` returns
cancelled events; ``events.delete`` cancels (410 ``deleted`` the second time, 404 for unknown ids);
etags change on every write and ``If-Match`` mismatches answer 412 ``conditionNotMet``; an expired or
unknown access token answers 401 ``authError``; a revoked refresh token answers ``invalid_grant``.
Faults (429 with ``Retry-After``, 403 ``rateLimitExceeded``, 5xx, lost answers) are injected with
:meth:`Simulator.inject`.
"""

from __future__ import annotations

import copy
import datetime as dt
import importlib.util
import itertools
import json
import re
import secrets
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import unquote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from devstack.sim_http import Grant, OAuthSimulator, Recorded, SimRequest, SimResponse, TokenBook

API_PREFIX = "/calendar/v3"
TOKEN_PATH = "/token"
ID_PATTERN = re.compile(r"^[a-v0-9]{5,1024}$")
# Values the discovery document lists in each field's description (it has no "enum" for them).
DOCUMENTED_VALUES = {
    "status": {"confirmed", "tentative", "cancelled"},
    "visibility": {"default", "public", "private", "confidential"},
    "transparency": {"opaque", "transparent"},
}
EXTENDED_KEY_MAX, EXTENDED_VALUE_MAX = 44, 1024
SERVER_FIELDS = ("kind", "id", "etag", "htmlLink", "created", "updated", "iCalUID", "creator", "organizer")


@lru_cache(maxsize=1)
def discovery() -> dict[str, Any]:
    """Google's Calendar v3 discovery document, as shipped by google-api-python-client."""
    spec = importlib.util.find_spec("googleapiclient")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("google-api-python-client is not installed (requirements-dev.txt)")
    path = Path(next(iter(spec.submodule_search_locations))) / "discovery_cache/documents/calendar.v3.json"
    document: dict[str, Any] = json.loads(path.read_text())
    return document


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def error(status: int, reason: str, message: str, domain: str = "global", **extra: str) -> SimResponse:
    return SimResponse(status, {"error": {"errors": [{"domain": domain, "reason": reason, "message": message,
                                                      **extra}],
                                          "code": status, "message": message}})


class Invalid(Exception):
    """A request Google would refuse with 400."""

    def __init__(self, message: str, reason: str = "invalid") -> None:
        super().__init__(message)
        self.reason = reason


# -- schema validation ------------------------------------------------------------------------------------

def schema_problems(value: Any, schema: dict[str, Any], where: str) -> list[str]:
    """Problems of ``value`` against a discovery-document schema: unknown fields, wrong types, formats."""
    if "$ref" in schema:
        schema = discovery()["schemas"][schema["$ref"]]
    kind = schema.get("type")
    if value is None or kind == "any":
        return []
    if kind == "object":
        if not isinstance(value, dict):
            return [f"{where}: expected an object"]
        properties, extra = schema.get("properties", {}), schema.get("additionalProperties")
        found: list[str] = []
        for name, item in value.items():
            if name in properties:
                found += schema_problems(item, properties[name], f"{where}.{name}")
            elif extra is not None:
                found += schema_problems(item, extra, f"{where}.{name}")
            else:
                found.append(f"Invalid JSON payload received. Unknown name \"{name}\" at '{where}': "
                             "Cannot find field.")
        return found
    if kind == "array":
        if not isinstance(value, list):
            return [f"{where}: expected an array"]
        return [p for i, item in enumerate(value) for p in schema_problems(item, schema["items"], f"{where}[{i}]")]
    if kind == "boolean":
        return [] if isinstance(value, bool) else [f"{where}: expected a boolean"]
    if kind == "integer":
        ok = (isinstance(value, int) and not isinstance(value, bool)) or (isinstance(value, str) and value.isdigit())
        return [] if ok else [f"{where}: expected an integer"]
    if kind == "number":
        return [] if isinstance(value, int | float) and not isinstance(value, bool) else [f"{where}: expected a number"]
    if not isinstance(value, str):
        return [f"{where}: expected a string"]
    if "enum" in schema and value not in schema["enum"]:
        return [f"{where}: invalid value"]
    try:
        if schema.get("format") == "date":
            dt.date.fromisoformat(value)
        elif schema.get("format") == "date-time":
            dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return [f"{where}: invalid {schema['format']}"]
    return []


def _instant(when: dict[str, Any], edge: str) -> tuple[str, dt.datetime]:
    """Checks an EventDateTime the way Google does; returns its kind and a comparable instant."""
    has_date, has_time = bool(when.get("date")), bool(when.get("dateTime"))
    if has_date == has_time:
        raise Invalid(f"{edge}: exactly one of date and dateTime is required")
    zone_name = when.get("timeZone")
    zone: dt.tzinfo = dt.UTC
    if zone_name:
        try:
            zone = ZoneInfo(zone_name)
        except (ZoneInfoNotFoundError, ValueError):
            raise Invalid(f"{edge}.timeZone: not an IANA time zone", "timeRangeEmpty") from None
    if has_date:
        day = dt.date.fromisoformat(when["date"])
        return "date", dt.datetime.combine(day, dt.time(0), zone)
    moment = dt.datetime.fromisoformat(str(when["dateTime"]).replace("Z", "+00:00"))
    if moment.tzinfo is None:
        if not zone_name:
            raise Invalid(f"{edge}.dateTime: an offset is required without timeZone")
        moment = moment.replace(tzinfo=zone)
    return "dateTime", moment


def check_event(body: Any, method_id: str) -> dict[str, Any]:
    """Validates an Event body for ``calendar.events.<method>``; returns it with Google's quiet fixes."""
    if not isinstance(body, dict):
        raise Invalid("the request body must be an Event")
    found = schema_problems(body, {"$ref": "Event"}, "resource")
    if found:
        raise Invalid(found[0])
    schema = discovery()["schemas"]["Event"]["properties"]
    for name in ("start", "end"):
        if method_id in schema[name].get("annotations", {}).get("required", []) and not body.get(name):
            raise Invalid(f"Missing {name} time.", "required")
    for name, allowed in DOCUMENTED_VALUES.items():
        if name in body and body[name] not in allowed:
            raise Invalid(f"resource.{name}: invalid value")
    if body.get("start") and body.get("end"):
        (start_kind, start), (end_kind, end) = _instant(body["start"], "start"), _instant(body["end"], "end")
        if start_kind != end_kind:
            raise Invalid("start and end must both be dates or both be date-times")
        if end <= start:
            raise Invalid("The specified time range is empty.", "timeRangeEmpty")
    source = body.get("source") or {}
    if source.get("url") and not str(source["url"]).startswith(("http://", "https://")):
        raise Invalid("resource.source.url: the scheme must be http or https")
    fixed = copy.deepcopy(body)
    private = (fixed.get("extendedProperties") or {}).get("private")
    if isinstance(private, dict):  # Google drops over-long keys and truncates over-long values silently
        fixed["extendedProperties"]["private"] = {k: v[:EXTENDED_VALUE_MAX] for k, v in private.items()
                                                  if len(k) <= EXTENDED_KEY_MAX}
    return fixed


def check_params(request: SimRequest, method: str) -> None:
    """Query parameters must be the method's own or Google's standard ones, with valid values."""
    document = discovery()
    allowed = {**document["parameters"], **document["resources"]["events"]["methods"][method]["parameters"]}
    for name, values in request.query.items():
        spec = allowed.get(name)
        if spec is None or spec.get("location") == "path":
            raise Invalid(f"Unknown query parameter \"{name}\"", "badRequest")
        for value in values:
            if "enum" in spec and value not in spec["enum"]:
                raise Invalid(f"Invalid value for {name}", "badRequest")
            if spec.get("type") == "boolean" and value not in ("true", "false"):
                raise Invalid(f"Invalid value for {name}", "badRequest")


# -- the simulator ----------------------------------------------------------------------------------------

class GoogleCalendarSimulator(OAuthSimulator):
    """Google Calendar v3 (events) and Google's OAuth token endpoint on one loopback port."""

    name = "google-sim"

    def __init__(self, *, rotate_refresh_tokens: bool = False, access_lifetime_seconds: int = 3600) -> None:
        super().__init__()
        self.rotate_refresh_tokens = rotate_refresh_tokens
        self.tokens = TokenBook(access_lifetime_seconds)
        self._calendars: dict[str, dict[str, dict[str, Any]]] = {}
        self._owners: dict[str, str] = {}
        self._etags = itertools.count(1)

    # -- addresses ----------------------------------------------------------------------------------

    @property
    def api_base(self) -> str:
        return self.url + API_PREFIX

    @property
    def token_uri(self) -> str:
        return self.url + TOKEN_PATH

    # -- setup --------------------------------------------------------------------------------------

    def register_client(self, client_id: str, client_secret: str) -> None:
        with self._lock:
            self.tokens.register_client(client_id, client_secret)

    def connect(self, user: str, client_id: str) -> str:
        """The clinician consents: their primary calendar exists, and a new refresh token is returned."""
        with self._lock:
            self.add_calendar(user, user)
            return self.tokens.consent(client_id, user, scope="https://www.googleapis.com/auth/calendar.events")

    def add_calendar(self, user: str, calendar_id: str) -> None:
        with self._lock:
            self._calendars.setdefault(calendar_id, {})
            self._owners[calendar_id] = user

    def remove_calendar(self, calendar_id: str) -> None:
        with self._lock:
            self._calendars.pop(calendar_id, None)
            self._owners.pop(calendar_id, None)

    def edit(self, calendar_id: str, event_id: str, **fields: Any) -> None:
        """The clinician edits the event in Google Calendar: its etag moves on."""
        with self._lock:
            event = self._calendars[calendar_id][event_id]
            event.update(fields, etag=self._etag(), updated=_now())

    def clear_state(self) -> None:
        self.tokens.clear()
        self._calendars.clear()
        self._owners.clear()

    # -- inspection ---------------------------------------------------------------------------------

    def events(self, calendar_id: str, *, include_cancelled: bool = False) -> list[dict[str, Any]]:
        with self._lock:
            return [copy.deepcopy(e) for e in self._calendars.get(calendar_id, {}).values()
                    if include_cancelled or e.get("status") != "cancelled"]

    def api_requests(self) -> list[Recorded]:
        return [r for r in self.requests if r.request.path.startswith(API_PREFIX)]

    def token_requests(self) -> list[Recorded]:
        return [r for r in self.requests if r.request.path == TOKEN_PATH]

    # -- dispatch -----------------------------------------------------------------------------------

    def error_body(self, status: int, request: SimRequest) -> Any:
        if request.path == TOKEN_PATH:
            return {"error": "rate_limit_exceeded" if status == 429 else "internal_failure"}
        reasons = {401: ("authError", "global"), 403: ("rateLimitExceeded", "usageLimits"),
                   429: ("rateLimitExceeded", "usageLimits"), 412: ("conditionNotMet", "global")}
        reason, domain = reasons.get(status, ("backendError", "global"))
        return error(status, reason, "Injected fault.", domain).body

    def handle(self, request: SimRequest) -> SimResponse:
        if request.path == TOKEN_PATH and request.method == "POST":
            return self._token(request)
        if not request.path.startswith(API_PREFIX + "/calendars/"):
            return error(404, "notFound", "Not Found")
        grant = self.tokens.bearer(request.bearer)
        if grant is None:
            return error(401, "authError", "Invalid Credentials", locationType="header", location="Authorization")
        parts = [unquote(p) for p in request.path[len(API_PREFIX) + 1:].split("/")]
        try:
            return self._events(request, grant, parts)
        except Invalid as problem:
            return error(400, problem.reason, str(problem))

    def _token(self, request: SimRequest) -> SimResponse:
        form = request.form()
        if not self.tokens.client_ok(form.get("client_id"), form.get("client_secret")):
            return SimResponse(401, {"error": "invalid_client", "error_description": "Unauthorized"})
        if form.get("grant_type") != "refresh_token":
            return SimResponse(400, {"error": "unsupported_grant_type", "error_description": "Invalid grant_type"})
        grant = self.tokens.redeem(form.get("refresh_token"), form.get("client_id"))
        if grant is None:
            return SimResponse(400, {"error": "invalid_grant",
                                     "error_description": "Token has been expired or revoked."})
        access, lifetime = self.tokens.issue(grant)
        answer: dict[str, Any] = {"access_token": access, "expires_in": lifetime, "scope": grant.scope,
                                  "token_type": "Bearer"}
        if self.rotate_refresh_tokens:
            answer["refresh_token"] = self.tokens.rotate(form["refresh_token"])
        return SimResponse(200, answer)

    def _calendar(self, grant: Grant, calendar_id: str) -> tuple[str, dict[str, dict[str, Any]]] | None:
        calendar_id = grant.subject if calendar_id == "primary" else calendar_id
        if self._owners.get(calendar_id) != grant.subject:
            return None  # no such calendar, or not this user's: Google says 404 either way
        return calendar_id, self._calendars[calendar_id]

    def _events(self, request: SimRequest, grant: Grant, parts: list[str]) -> SimResponse:
        if len(parts) not in (3, 4) or parts[0] != "calendars" or parts[2] != "events":
            return error(404, "notFound", "Not Found")
        found = self._calendar(grant, parts[1])
        if found is None:
            return error(404, "notFound", "Not Found")
        calendar_id, events = found
        if len(parts) == 3:
            if request.method == "POST":
                check_params(request, "insert")
                return self._insert(calendar_id, events, check_event(request.json(), "calendar.events.insert"))
            if request.method == "GET":
                check_params(request, "list")
                return self._list(request, events)
            return error(405, "methodNotAllowed", "Method Not Allowed")
        event = events.get(parts[3])
        if request.method == "GET":
            check_params(request, "get")
            return SimResponse(200, copy.deepcopy(event)) if event else error(404, "notFound", "Not Found")
        if request.method in ("PUT", "PATCH"):
            method = "update" if request.method == "PUT" else "patch"
            check_params(request, method)
            body = check_event(request.json(), f"calendar.events.{method}")
            if event is None:
                return error(404, "notFound", "Not Found")
            if not self._matches(request, event):
                return error(412, "conditionNotMet", "Precondition Failed", locationType="header", location="If-Match")
            return self._write(event, body, replace=request.method == "PUT")
        if request.method == "DELETE":
            check_params(request, "delete")
            if event is None:
                return error(404, "notFound", "Not Found")
            if event.get("status") == "cancelled":
                return error(410, "deleted", "Resource has been deleted")
            if not self._matches(request, event):
                return error(412, "conditionNotMet", "Precondition Failed", locationType="header", location="If-Match")
            event.update(status="cancelled", etag=self._etag(), updated=_now())
            return SimResponse(204)
        return error(405, "methodNotAllowed", "Method Not Allowed")

    @staticmethod
    def _matches(request: SimRequest, event: dict[str, Any]) -> bool:
        wanted = request.headers.get("if-match")
        return wanted is None or wanted == "*" or wanted == event["etag"]

    def _etag(self) -> str:
        return f'"{3180000000000000 + next(self._etags)}"'

    def _insert(self, calendar_id: str, events: dict[str, dict[str, Any]], body: dict[str, Any]) -> SimResponse:
        event_id = body.get("id") or secrets.token_hex(13)
        if not ID_PATTERN.match(event_id):
            raise Invalid("Invalid resource id value.")
        if event_id in events:  # cancelled ones included: Google keeps them
            return error(409, "duplicate", "The requested identifier already exists.")
        now = _now()
        event = {"kind": "calendar#event", "status": "confirmed", "reminders": {"useDefault": True},
                 "eventType": "default", "sequence": 0, **body, "id": event_id, "etag": self._etag(),
                 "htmlLink": f"https://calendar.example/event?eid={event_id}", "created": now, "updated": now,
                 "iCalUID": f"{event_id}@google.com", "creator": {"email": self._owners[calendar_id], "self": True},
                 "organizer": {"email": calendar_id, "self": True}}
        events[event_id] = event
        return SimResponse(200, copy.deepcopy(event))

    def _write(self, event: dict[str, Any], body: dict[str, Any], *, replace: bool) -> SimResponse:
        kept = {k: event[k] for k in SERVER_FIELDS if k in event}
        if replace:
            updated = {"status": "confirmed", "reminders": {"useDefault": True}, "eventType": "default",
                       "sequence": event.get("sequence", 0), **body}
        else:
            updated = _merge(copy.deepcopy(event), body)
        event.clear()
        event.update({**updated, **kept, "etag": self._etag(), "updated": _now()})
        return SimResponse(200, copy.deepcopy(event))

    @staticmethod
    def _list(request: SimRequest, events: dict[str, dict[str, Any]]) -> SimResponse:
        show_deleted = request.param("showDeleted") == "true"
        wanted = [tuple(v.split("=", 1)) for v in request.query.get("privateExtendedProperty", []) if "=" in v]
        items = [
            copy.deepcopy(e) for e in events.values()
            if (show_deleted or e.get("status") != "cancelled")
            and all(((e.get("extendedProperties") or {}).get("private") or {}).get(k) == v for k, v in wanted)
        ]
        return SimResponse(200, {"kind": "calendar#events", "items": items})


def _merge(target: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """Patch semantics: objects merge, everything else (arrays included) is replaced."""
    for key, value in patch.items():
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            _merge(target[key], value)
        else:
            target[key] = value
    return target
