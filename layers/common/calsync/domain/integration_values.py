"""What an integration's settings may hold, checked where they enter: when an
:class:`~calsync.domain.model.Integration` is built and again when it is stored.

Its values reach calendars (a feed's name is the calendar's name in every subscriber's app; location
names select what a feed shows) and HTTP requests (a CalDAV collection URL is the request line and the
``Host`` header; a Google or Graph calendar id, a Graph user id and a Microsoft directory end up in URL
paths and in the token authority). A value with a line break or another control character in it could
split an iCalendar line or a request, so it is refused when it is stored, never discovered when it is
served. Provider options are an allowlist per provider, each with its own pattern.

An integration read back from the table is not checked again (``STORED`` in the validation context): one
stored before these rules existed must go on syncing, and what renders it is safe on its own
(``calsync.domain.text.printable``, URL quoting, httpx's URL checks).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any

from pydantic import ValidationInfo

from calsync.domain.text import has_control_characters

STORED = "stored"
"""Validation context key: the integration is being read back from the table, not entering."""

FEED_NAME = "feed_name"
"""ICS feeds: the calendar's name in the subscriber's app."""
GRAPH_MODE = "graph_mode"
"""Microsoft: ``delegated`` (the clinician's consent) or ``organisation`` (the admin's, for every clinician)."""
GRAPH_USER_ID = "graph_user_id"
"""Microsoft organisation mode: whose mailbox (object id or user principal name)."""
MICROSOFT_TENANT = "tenant_id"
"""Microsoft: the directory (tenant GUID, a verified domain, or ``common``/``organizations``)."""
APP_SECRET_REF = "app_secret_ref"  # noqa: S105 - an option name
"""OAuth providers: the secret holding the application's client id and secret, when not the integration's."""
CREATED_BY_CALSYNC = "calendar_created_by_calsync"
"""``true`` when the calendar is the one the connect page made ("Clinic appointments")."""
BUSY_CALENDARS = "busy_calendars"
"""Two-way: the calendars whose events count as busy, as a JSON list of calendar ids."""
MAX_BUSY_CALENDARS = 50

GRAPH_MODES = ("delegated", "organisation")

_ID = r"[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}"
INTEGRATION_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:@-]{0,127}")
"""An integration's own id (also a feed's ``calendar_id``): the contract's identifiers, and ``_``."""
IDENTIFIER = re.compile(_ID)
"""The contract's identifier (tenant, practitioner, practice): anything else could never match an event."""
OWNER = re.compile(f"(?:practice:)?{_ID}")
"""A practitioner id, or ``practice:<id>`` for a front-desk feed."""
SECRET_REF = re.compile(r"[A-Za-z0-9/_+=.@:-]{1,2048}")
"""A Secrets Manager name or ARN."""
CALENDAR_URL = re.compile(r"https?://[^\s/?#@\x00-\x1f\x7f-\x9f]+(?:/[^\s?#\x00-\x1f\x7f-\x9f]*)?")
"""A CalDAV collection URL: no credentials, query or fragment, no whitespace or control characters."""
CALENDAR_ID = re.compile(r"[^\s\x00-\x1f\x7f-\x9f]{0,1024}")
"""A Google or Graph calendar id (empty: the primary calendar); it is quoted into a URL path."""
GRAPH_USER = re.compile(r"[A-Za-z0-9'._!#^~+-]{1,113}(?:@[A-Za-z0-9.-]{1,255})?")
MICROSOFT_DIRECTORY = re.compile(r"[A-Za-z0-9][A-Za-z0-9.-]{0,252}")

SHORT_TEXT = 200
LABEL_PATTERN = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$"
"""What :func:`single_line` accepts, as a JSON Schema pattern (not blank, no control characters)."""

Check = Callable[[str], str]


def matches(pattern: re.Pattern[str], what: str) -> Check:
    """A check that ``value`` is all of ``pattern``; the reason says what was expected, never the value."""

    def check(value: str) -> str:
        if not pattern.fullmatch(value):
            raise ValueError(f"must be {what}")
        return value

    return check


def single_line(max_length: int = SHORT_TEXT) -> Check:
    def check(value: str) -> str:
        if has_control_characters(value):
            raise ValueError("must not contain control characters")
        if not value.strip() or len(value) > max_length:
            raise ValueError(f"must be 1 to {max_length} characters")
        return value

    return check


def _one_of(choices: tuple[str, ...]) -> Check:
    def check(value: str) -> str:
        if value not in choices:
            raise ValueError(f"must be one of {', '.join(choices)}")
        return value

    return check


def _calendar_list(value: str) -> str:
    try:
        calendars = json.loads(value)
    except ValueError:
        raise ValueError("must be a JSON list of calendar ids") from None
    if not (isinstance(calendars, list) and len(calendars) <= MAX_BUSY_CALENDARS and all(
            isinstance(c, str) and c and CALENDAR_ID.fullmatch(c) for c in calendars)):
        raise ValueError(f"must be a JSON list of at most {MAX_BUSY_CALENDARS} calendar ids")
    return value


_SECRET = matches(SECRET_REF, "a Secrets Manager name or ARN")
_CONNECTED = {CREATED_BY_CALSYNC: _one_of(("true",)), BUSY_CALENDARS: _calendar_list}
"""What the connect page records on every calendar provider's integration."""
OPTIONS: Mapping[str, Mapping[str, Check]] = {
    "caldav": {**_CONNECTED},
    "google": {APP_SECRET_REF: _SECRET, **_CONNECTED},
    "microsoft": {
        **_CONNECTED,
        APP_SECRET_REF: _SECRET,
        GRAPH_MODE: _one_of(GRAPH_MODES),
        GRAPH_USER_ID: matches(GRAPH_USER, "a Microsoft Entra object id or user principal name"),
        MICROSOFT_TENANT: matches(MICROSOFT_DIRECTORY, "a Microsoft Entra tenant id or domain"),
    },
    "ics": {FEED_NAME: single_line()},
}
"""Per provider: the options it takes and the check for each value."""

CALENDAR_IDS: Mapping[str, Check] = {
    "caldav": matches(CALENDAR_URL, "the CalDAV collection URL (http or https, no credentials or query)"),
    "google": matches(CALENDAR_ID, "a calendar id without whitespace or control characters"),
    "microsoft": matches(CALENDAR_ID, "a calendar id without whitespace or control characters"),
    "ics": matches(INTEGRATION_ID, "the feed's own id"),
}


def entering(info: ValidationInfo) -> bool:
    """False when the integration is read back from the table (see ``STORED``)."""
    return not (isinstance(info.context, dict) and info.context.get(STORED))


def when_entering(check: Check) -> Callable[[Any, ValidationInfo], Any]:
    """``check`` as a pydantic after-validator that lets stored values through (``None`` always passes)."""

    def validate(value: Any, info: ValidationInfo) -> Any:
        if value is None or not entering(info):
            return value
        if isinstance(value, str):
            return check(value)
        return frozenset(check(item) for item in value)

    return validate


def option_problems(provider: str, options: Mapping[str, str]) -> list[str]:
    """What is wrong with ``options`` for ``provider``: unknown keys and bad values, by key only."""
    allowed = OPTIONS.get(provider, {})
    problems = []
    for key, value in sorted(options.items()):
        check = allowed.get(key)
        if check is None:
            problems.append(f"options: {key!r} is not an option of {provider} integrations"
                            if IDENTIFIER.fullmatch(key) else f"options: unknown option for {provider}")
            continue
        try:
            check(value)
        except ValueError as error:
            problems.append(f"options.{key}: {error}")
    return problems
