"""Google's published schema for Calendar v3, and the checks the simulator holds requests to.

The discovery document for Calendar v3 that ``google-api-python-client`` ships
(``googleapiclient/discovery_cache/documents/calendar.v3.json``, a dev dependency only) defines every
resource (Event, Channel, Calendar, FreeBusyRequest, ...), every method's parameters and the OAuth
scopes each method accepts; anything it does not name is refused with 400, as Google does.
"""

from __future__ import annotations

import copy
import datetime as dt
import importlib.util
import json
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from devstack.sims.http import SimRequest, SimResponse
from devstack.sims.recurrence import check_lines

# Values the discovery document lists in each field's description (it has no "enum" for them).
DOCUMENTED_VALUES = {
    "status": {"confirmed", "tentative", "cancelled"},
    "visibility": {"default", "public", "private", "confidential"},
    "transparency": {"opaque", "transparent"},
}
EXTENDED_KEY_MAX, EXTENDED_VALUE_MAX = 44, 1024


@lru_cache(maxsize=1)
def discovery() -> dict[str, Any]:
    """Google's Calendar v3 discovery document, as shipped by google-api-python-client."""
    spec = importlib.util.find_spec("googleapiclient")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("google-api-python-client is not installed (requirements-dev.txt)")
    path = Path(next(iter(spec.submodule_search_locations))) / "discovery_cache/documents/calendar.v3.json"
    document: dict[str, Any] = json.loads(path.read_text())
    return document


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
    if schema.get("format") in ("int64", "uint64") and isinstance(value, int) and not isinstance(value, bool):
        return []  # 64-bit integers travel as strings, and Google reads a JSON number too (the push guide sends one)
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


def instant(when: dict[str, Any], edge: str) -> tuple[str, dt.datetime]:
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
        (start_kind, start), (end_kind, end) = instant(body["start"], "start"), instant(body["end"], "end")
        if start_kind != end_kind:
            raise Invalid("start and end must both be dates or both be date-times")
        if end <= start:
            raise Invalid("The specified time range is empty.", "timeRangeEmpty")
    if body.get("recurrence"):
        try:
            check_lines(body["recurrence"])
        except ValueError:
            raise Invalid("Invalid recurrence rule.") from None
        for edge in ("start", "end"):
            if (body.get(edge) or {}).get("dateTime") and not body[edge].get("timeZone"):
                raise Invalid(f"Missing time zone definition for {edge} time.", "missingTimeZone")
    source = body.get("source") or {}
    if source.get("url") and not str(source["url"]).startswith(("http://", "https://")):
        raise Invalid("resource.source.url: the scheme must be http or https")
    fixed = copy.deepcopy(body)
    private = (fixed.get("extendedProperties") or {}).get("private")
    if isinstance(private, dict):  # Google drops over-long keys and truncates over-long values silently
        fixed["extendedProperties"]["private"] = {k: v[:EXTENDED_VALUE_MAX] for k, v in private.items()
                                                  if len(k) <= EXTENDED_KEY_MAX}
    return fixed


def method_spec(resource: str, method: str) -> dict[str, Any]:
    spec: dict[str, Any] = discovery()["resources"][resource]["methods"][method]
    return spec


def check_params(request: SimRequest, method: str, resource: str = "events") -> None:
    """Query parameters must be the method's own or Google's standard ones, with valid values."""
    document = discovery()
    allowed = {**document["parameters"], **method_spec(resource, method).get("parameters", {})}
    for name, values in request.query.items():
        spec = allowed.get(name)
        if spec is None or spec.get("location") == "path":
            raise Invalid(f"Unknown query parameter \"{name}\"", "badRequest")
        for value in values:
            if "enum" in spec and value not in spec["enum"]:
                raise Invalid(f"Invalid value for {name}", "badRequest")
            if spec.get("type") == "boolean" and value not in ("true", "false"):
                raise Invalid(f"Invalid value for {name}", "badRequest")
            if spec.get("type") == "integer" and not (value.isdigit() and int(value) >= int(spec.get("minimum", 0))):
                raise Invalid(f"Invalid value for {name}", "badRequest")




def check_body(body: Any, schema: str) -> dict[str, Any]:
    """A request body that must be a ``schema`` object of the discovery document (unknown fields refused)."""
    if not isinstance(body, dict):
        raise Invalid(f"the request body must be a {schema}")
    found = schema_problems(body, {"$ref": schema}, "resource")
    if found:
        raise Invalid(found[0])
    return body


def rfc3339(moment: dt.datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_rfc3339(value: str, name: str) -> dt.datetime:
    """A query parameter that must be an RFC 3339 timestamp with an offset."""
    try:
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise Invalid(f"Invalid value for {name}", "badRequest") from None
    if moment.tzinfo is None:
        raise Invalid(f"{name} needs a time zone offset", "badRequest")
    return moment
