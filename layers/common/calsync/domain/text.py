"""Which characters text may carry when it enters calsync: the one rule for the event contract and for
integration settings, and the one place that makes stored text safe to render.

Every value that reaches a calendar (SUMMARY, DESCRIPTION, LOCATION, a calendar's name) or an HTTP
request (a URL, a path segment) is checked where it enters, so a bad value is refused when it is sent or
stored, never when it is served. Control characters are the class: C0 (U+0000–U+001F), DEL and C1
(U+0080–U+009F). RFC 5545 forbids them in content lines; a CR or LF ends a content line or an HTTP
header; NUL and ESC break or deceive whatever reads them. Only multi-line text (the appointment's notes)
keeps a tab, a line feed and a CR that is part of a CRLF (which iCalendar escapes as ``\\n``).

Each rule exists twice, as the JSON Schema pattern the published schema carries and as a check that runs
before pydantic strips surrounding whitespace, so a control character is refused wherever it stands and
the reason names the rule, never the value. :func:`printable` is the defence behind the checks: the
renderers pass stored text through it, so a value stored before the checks existed still cannot inject
anything.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BeforeValidator, StringConstraints

_CONTROL = r"\x00-\x1f\x7f-\x9f"
_CONTROL_BUT_TAB_AND_LF = r"\x00-\x08\x0b-\x1f\x7f-\x9f"

SINGLE_LINE_PATTERN = f"^[^{_CONTROL}]*$"
"""Text without control characters (JSON Schema / ECMA-262 and Python ``re`` alike)."""
MULTI_LINE_PATTERN = rf"^(?:[^{_CONTROL_BUT_TAB_AND_LF}]|\r\n)*$"
"""Text without control characters except tab, line feed, and CR in a CRLF."""

_SINGLE_LINE = re.compile(f"[^{_CONTROL}]*")
_MULTI_LINE = re.compile(rf"(?:[^{_CONTROL_BUT_TAB_AND_LF}]|\r\n)*")
_ANY_CONTROL = re.compile(f"[{_CONTROL}]")

NO_CONTROL_CHARACTERS = "must not contain control characters"
ONLY_LINE_BREAKS = "must not contain control characters other than tab, line feed and CRLF"


def single_line(value: Any) -> Any:
    if isinstance(value, str) and not _SINGLE_LINE.fullmatch(value):
        raise ValueError(NO_CONTROL_CHARACTERS)
    return value


def multi_line(value: Any) -> Any:
    if isinstance(value, str) and not _MULTI_LINE.fullmatch(value):
        raise ValueError(ONLY_LINE_BREAKS)
    return value


def single_line_text(min_length: int | None = None, max_length: int | None = None) -> StringConstraints:
    """The JSON Schema side of :func:`single_line`, with the field's length limits (one constraint object,
    so pydantic reports lengths in characters and the schema carries all three)."""
    return StringConstraints(min_length=min_length, max_length=max_length, pattern=SINGLE_LINE_PATTERN)


def multi_line_text(max_length: int | None = None) -> StringConstraints:
    """The JSON Schema side of :func:`multi_line`."""
    return StringConstraints(max_length=max_length, pattern=MULTI_LINE_PATTERN)


SingleLine = Annotated[str, single_line_text(), BeforeValidator(single_line)]
"""A string without control characters (names, labels, addresses, settings that have no pattern of their own)."""


def has_control_characters(value: str) -> bool:
    return _ANY_CONTROL.search(value) is not None


def printable(value: str, keep_line_breaks: bool = False) -> str:
    """``value`` with every control character replaced by a space (tabs and line feeds kept when asked;
    CRLF becomes LF). For rendering text that was stored before it could be checked: a calendar shows
    the rest of it, and nothing in it can end a line or a header."""
    if keep_line_breaks:
        value = value.replace("\r\n", "\n")
        return re.sub(f"[{_CONTROL_BUT_TAB_AND_LF}]", " ", value)
    return _ANY_CONTROL.sub(" ", value)
