"""The clinician's calendars at Google and Microsoft: list them (to pick one, or the busy ones), and create
the dedicated calendar calsync writes to ("Clinic appointments"). Used when connecting, not on the hot
path; the token comes from the consent that was just given (a ``TokenSource``), the API base from the
deployment settings.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from calsync.http.bearer import BearerSession
from calsync.http.outcomes import Answer, answer, raise_for_status


@dataclass(frozen=True)
class Calendar:
    id: str
    name: str
    primary: bool = False
    writable: bool = True


def google_calendars(session: BearerSession, api_base: str) -> list[Calendar]:
    """Every calendar in the clinician's list (needs ``calendar.calendarlist.readonly``)."""
    found: list[Calendar] = []
    page: str | None = None
    for _page in range(20):
        params = {"minAccessRole": "reader", **({"pageToken": page} if page else {})}
        response = session.send("GET", f"{api_base.rstrip('/')}/users/me/calendarList", params=params)
        raise_for_status("google", response, "calendar_list")
        body: dict[str, Any] = response.json()
        for item in body.get("items", []):
            name = item.get("summaryOverride") or item.get("summary") or item["id"]
            found.append(Calendar(str(item["id"]), str(name), bool(item.get("primary")),
                                  item.get("accessRole") in ("owner", "writer")))
        page = body.get("nextPageToken")
        if not page:
            break
    return found


def google_create(session: BearerSession, api_base: str, name: str, time_zone: str | None = None) -> str:
    """A new secondary calendar (``calendar.app.created`` is enough); returns its id."""
    body: dict[str, Any] = {"summary": name, **({"timeZone": time_zone} if time_zone else {})}
    response = session.send("POST", f"{api_base.rstrip('/')}/calendars", json=body)
    raise_for_status("google", response, "create_calendar")
    return str(response.json()["id"])


def microsoft_calendars(session: BearerSession, api_base: str) -> list[Calendar]:
    response = session.send("GET", f"{api_base.rstrip('/')}/me/calendars")
    raise_for_status("microsoft", response, "calendar_list")
    return [Calendar(str(item["id"]), str(item.get("name") or item["id"]), bool(item.get("isDefaultCalendar")),
                     bool(item.get("canEdit", True)))
            for item in response.json().get("value", [])]


def microsoft_create(session: BearerSession, api_base: str, name: str) -> str:
    """A calendar called ``name``: created, or the existing one of that name (Graph refuses duplicates)."""
    response = session.send("POST", f"{api_base.rstrip('/')}/me/calendars", json={"name": name})
    if answer("microsoft", "create_calendar", response) is Answer.TAKEN:
        for calendar in microsoft_calendars(session, api_base):
            if calendar.name.lower() == name.lower():
                return calendar.id
        raise_for_status("microsoft", response, "create_calendar")
    return str(response.json()["id"])
