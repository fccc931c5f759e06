"""Graph's error shapes, the checks event bodies are held to, and the event as Graph returns it.

Bodies are checked against Graph's schema (:mod:`devstack.sims.microsoft.schema`): unknown properties are
refused with 400, as Graph does. Time zones are IANA names (or UTC); Windows zone names, which Graph also
accepts, are not simulated. Views honour ``Prefer: outlook.timezone`` and ``outlook.body-content-type``
and ``$select``.
"""

from __future__ import annotations

import copy
import datetime as dt
import html
import re
import uuid
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from devstack.sims.http import SimRequest, SimResponse
from devstack.sims.microsoft.schema import problems

_PREFERENCE = re.compile(r'([\w.-]+)\s*=\s*"?([^",]*)"?')
HIDDEN = ("singleValueExtendedProperties", "transactionId")


class BadRequest(Exception):
    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.status = status


def graph_error(status: int, code: str, message: str) -> SimResponse:
    return SimResponse(status, {"error": {"code": code, "message": message,
                                          "innerError": {"request-id": str(uuid.uuid4()),
                                                         "date": dt.datetime.now(dt.UTC).isoformat()}}})


def not_found() -> SimResponse:
    return graph_error(404, "ErrorItemNotFound", "The specified object was not found in the store.")


def preferences(request: SimRequest) -> dict[str, str]:
    return dict(_PREFERENCE.findall(",".join(v for k, v in request.headers.items() if k == "prefer")))


def instant(value: Any) -> dt.datetime:
    """A dateTimeTimeZone as an aware datetime; 400 for anything Graph would not read."""
    try:
        moment = dt.datetime.fromisoformat(str(value["dateTime"]))
        zone = ZoneInfo(str(value["timeZone"]))
    except (KeyError, TypeError, ValueError, ZoneInfoNotFoundError):
        raise BadRequest("ErrorTimeZoneNotSupportedException"
                         if isinstance(value, dict) and "dateTime" in value else "ErrorInvalidRequest",
                         "A valid dateTime and an IANA timeZone are required.") from None
    return moment.replace(tzinfo=zone) if moment.tzinfo is None else moment


def valid_event(body: Any) -> dict[str, Any]:
    found = problems(body)
    if found:
        raise BadRequest("RequestBodyRead", found[0])
    assert isinstance(body, dict)
    for edge in ("start", "end"):
        if edge in body:
            instant(body[edge])
    if "start" in body and "end" in body and instant(body["end"]) <= instant(body["start"]):
        raise BadRequest("ErrorInvalidTimeRange", "The end time must be after the start time.")
    if body.get("isAllDay"):
        for edge in ("start", "end"):
            moment = dt.datetime.fromisoformat(str(body[edge]["dateTime"]))
            if moment.time() != dt.time(0):
                raise BadRequest("ErrorPropertyValidationFailure", "All-day events must start and end at midnight.")
    return copy.deepcopy(body)


def graph_time(moment: dt.datetime, zone: str) -> dict[str, str]:
    local = moment.astimezone(ZoneInfo(zone)).replace(tzinfo=None)
    return {"dateTime": local.isoformat(timespec="microseconds") + "0", "timeZone": zone}


def view(request: SimRequest, event: dict[str, Any]) -> dict[str, Any]:
    """The event as Graph returns it under the request's preferences (and ``$select``)."""
    prefer = preferences(request)
    zone = prefer.get("outlook.timezone", "UTC")
    shown = {k: copy.deepcopy(v) for k, v in event.items() if not k.startswith("_") and k not in HIDDEN}
    if event.get("transactionId"):
        shown["transactionId"] = event["transactionId"]
    for edge in ("start", "end"):
        if edge in event:
            shown[edge] = graph_time(instant(event[edge]), zone)
    body = event.get("body") or {}
    if prefer.get("outlook.body-content-type") == "text":
        text = body.get("content", "")
        if body.get("contentType") == "html":
            text = html.unescape(re.sub(r"<[^>]*>", "", text))
        shown["body"] = {"contentType": "text", "content": text}
    elif body.get("contentType", "text") == "text":
        escaped = html.escape(body.get("content", "")).replace("\n", "<br>\r\n")
        page = f"<html>\r\n<head>\r\n</head>\r\n<body>\r\n<div>{escaped}</div>\r\n</body>\r\n</html>"
        shown["body"] = {"contentType": "html", "content": page}
    selected = request.param("$select")
    if selected:
        keep = {s.strip() for s in selected.split(",")} | {"id", "@odata.etag"}
        shown = {k: v for k, v in shown.items() if k in keep}
    return shown
