"""Every value that reaches a calendar or an HTTP request is checked where it enters (issue 9, item 11):
an integration's ids, calendar id, filters, secret reference and provider options are refused when built
or stored, whatever the hostile value; one already stored is read as it is and rendered safely, also
under ``python -O`` (asserts stripped)."""

from __future__ import annotations

import datetime as dt
import json
import re
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import icalendar
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from calsync.core.errors import ConfigurationError
from calsync.domain import integration_values as values
from calsync.domain.event import CalendarEvent, EventKey
from calsync.domain.integration_values import OPTIONS, STORED
from calsync.domain.model import Integration, Provider, checked
from calsync.feed import document
from calsync.formats import ical

MARKER = "Qzmarker"
BASE: dict[Provider, dict[str, Any]] = {
    Provider.CALDAV: {"calendar_id": "https://cal.example/dav/dr-1/appointments/"},
    Provider.GOOGLE: {"calendar_id": "primary", "options": {"app_secret_ref": "calsync/app/google"}},
    Provider.MICROSOFT: {"calendar_id": "AAMkAGI2TGuLAAA=", "options": {
        "graph_mode": "organisation", "graph_user_id": "dr.one@clinic.example", "tenant_id": "clinic.example",
        "app_secret_ref": "arn:aws:secretsmanager:us-east-1:123456789012:secret:calsync/app-AbCdEf"}},
    Provider.ICS: {"calendar_id": "feed_0123abcd", "options": {"feed_name": "Dr One — clinic"}},
}


def fields(provider: Provider, **changes: Any) -> dict[str, Any]:
    base = {"integration_id": "feed_0123abcd" if provider is Provider.ICS else "int-1", "tenant_id": "tenant-1",
            "practitioner_id": "dr-1", "provider": provider, "secret_ref": "calsync/tenant-1/int-1",
            **BASE[provider]}
    for name, value in changes.items():
        if name.startswith("options."):
            base["options"] = {**base.get("options", {}), name.removeprefix("options."): value}
        else:
            base[name] = value
    return base


# Every field whose value reaches a calendar (feed name, location names) or a request (URL, path, authority)
ENTRY_POINTS: list[tuple[Provider, str, Callable[[str], Any]]] = [
    *((p, "integration_id", str) for p in Provider),
    *((p, "tenant_id", str) for p in Provider),
    *((p, "practitioner_id", str) for p in Provider),
    *((p, "practice_scope", str) for p in Provider),
    *((p, "practice_filter", lambda v: frozenset({"p-1", v})) for p in Provider),
    *((p, "location_filter", lambda v: frozenset({"Room 1", v})) for p in Provider),
    *((p, "secret_ref", str) for p in Provider),
    *((p, "status_reason", str) for p in Provider),
    *((p, "last_error", str) for p in Provider),
    (Provider.CALDAV, "calendar_id", lambda v: f"https://cal.example/dav/{v}/"),
    (Provider.GOOGLE, "calendar_id", str),
    (Provider.MICROSOFT, "calendar_id", str),
    (Provider.ICS, "calendar_id", str),
    (Provider.ICS, "options.feed_name", str),
    (Provider.MICROSOFT, "options.graph_user_id", str),
    (Provider.MICROSOFT, "options.tenant_id", str),
    (Provider.MICROSOFT, "options.graph_mode", str),
    (Provider.MICROSOFT, "options.app_secret_ref", str),
    (Provider.GOOGLE, "options.app_secret_ref", str),
]
CONTROL = st.one_of(st.characters(min_codepoint=0x00, max_codepoint=0x1F),
                    st.characters(min_codepoint=0x7F, max_codepoint=0x9F))
HOSTILE = st.builds(lambda before, control, after: f"{before}{control}{after}",
                    st.text(max_size=20), CONTROL, st.text(max_size=20))


def test_the_base_integrations_are_valid() -> None:
    for provider in Provider:
        assert checked(Integration.model_validate(fields(provider)))


def test_a_feed_name_with_a_newline_is_refused_when_the_feed_is_built() -> None:
    with pytest.raises(ValidationError, match="feed_name"):
        Integration.model_validate(fields(Provider.ICS, **{"options.feed_name": "Dr One\nX-INJECTED:1"}))


@settings(max_examples=200, deadline=None)
@given(entry=st.sampled_from(ENTRY_POINTS), value=HOSTILE)
def test_hostile_values_are_refused_where_they_enter(entry: tuple[Provider, str, Callable[[str], Any]],
                                                     value: str) -> None:
    provider, name, place = entry
    with pytest.raises(ValidationError) as caught:
        Integration.model_validate(fields(provider, **{name: place(value)}))
    assert name.split(".")[-1] in str(caught.value)


@settings(max_examples=100, deadline=None)
@given(entry=st.sampled_from(ENTRY_POINTS), value=HOSTILE)
def test_a_value_set_after_construction_is_refused_when_stored(entry: tuple[Provider, str, Callable[[str], Any]],
                                                               value: str) -> None:
    provider, name, place = entry
    integration = Integration.model_validate(fields(provider))
    if name.startswith("options."):
        integration.options[name.removeprefix("options.")] = place(value)
    else:
        setattr(integration, name, place(value))
    with pytest.raises(ConfigurationError) as caught:
        checked(integration)
    assert name.split(".")[-1] in str(caught.value)
    if len(value.strip()) >= 4:
        assert value not in str(caught.value), "the reason quotes the value"


@pytest.mark.parametrize(("provider", "option"), [
    (Provider.CALDAV, "feed_name"), (Provider.GOOGLE, "token_uri"), (Provider.GOOGLE, "api_base"),
    (Provider.MICROSOFT, "login_base"), (Provider.MICROSOFT, "feed_name"), (Provider.ICS, "graph_mode"),
    (Provider.ICS, "bad key\n"),
])
def test_options_are_an_allowlist_per_provider(provider: Provider, option: str) -> None:
    with pytest.raises(ValidationError, match="options"):
        Integration.model_validate(fields(provider, **{f"options.{option}": "value"}))


@pytest.mark.parametrize(("option", "value"), [
    ("tenant_id", "evil.example/oauth2"), ("tenant_id", "../common"), ("tenant_id", "x?y=1"),
    ("graph_user_id", "someone/../../admin"), ("graph_user_id", "a b@x.example"), ("graph_mode", "Organisation"),
])
def test_microsoft_values_cannot_reshape_a_url(option: str, value: str) -> None:
    with pytest.raises(ValidationError, match=option):
        Integration.model_validate(fields(Provider.MICROSOFT, **{f"options.{option}": value}))


@pytest.mark.parametrize("url", ["https://user:pw@cal.example/dav/", "https://cal.example/dav/?x=1",
                                 "https://cal.example/da v/", "ftp://cal.example/dav/", "cal.example/dav/"])
def test_a_caldav_calendar_id_is_a_plain_collection_url(url: str) -> None:
    with pytest.raises(ValidationError, match="calendar_id"):
        Integration.model_validate(fields(Provider.CALDAV, calendar_id=url))


def test_every_provider_has_an_option_allowlist() -> None:
    assert set(OPTIONS) == {provider.value for provider in Provider}


def test_an_integration_read_back_from_the_table_is_taken_as_stored() -> None:
    # One stored before these rules: it must go on syncing (its values are rendered safely)
    legacy = fields(Provider.ICS, **{"options.feed_name": "Dr One\nX-INJECTED:1", "options.api_base": "x"})
    assert Integration.model_validate(legacy, context={STORED: True}).options["feed_name"].startswith("Dr One")


# -- rendering what was stored before the checks -------------------------------------------------------------

NAMES = st.text(st.characters(codec="utf-8"), min_size=1, max_size=120)


def _content_lines(text: str) -> list[str]:
    assert text.endswith("\r\n")
    lines = text[:-2].split("\r\n")
    for line in lines:
        assert not any((ord(c) < 0x20 and c != "\t") or 0x7F <= ord(c) <= 0x9F for c in line), repr(line)
    return lines


@settings(max_examples=150, deadline=None)
@given(name=NAMES)
def test_a_feed_header_renders_any_stored_name_as_one_line_each(name: str) -> None:
    head = document._header(name, (), 2026, 2027)
    unfolded = head.replace("\r\n ", "")
    lines = _content_lines(unfolded)
    assert [line.split(":")[0] for line in lines] == ["BEGIN", "VERSION", "PRODID", "CALSCALE", "METHOD", "NAME",
                                                     "X-WR-CALNAME", "REFRESH-INTERVAL;VALUE=DURATION",
                                                     "X-PUBLISHED-TTL"]
    parsed = icalendar.Calendar.from_ical(head + document.FOOTER)
    assert "\n" not in str(parsed["X-WR-CALNAME"]) and "\x00" not in str(parsed["X-WR-CALNAME"])


def _event(text: str) -> CalendarEvent:
    start = dt.datetime(2026, 11, 24, 14, 30, tzinfo=dt.UTC)
    return CalendarEvent(summary=text, description=f"{text}\n{text}", location=text, start=start,
                         end=start + dt.timedelta(minutes=50), timezone="America/New_York", all_day=False,
                         url=f"https://ehr.example/{text}")


@settings(max_examples=150, deadline=None)
@given(text=NAMES)
def test_a_vevent_renders_any_stored_text_without_raw_control_characters(text: str) -> None:
    body = ical.calendar_object(EventKey("int-1", "tenant-1", "apt-1"), _event(text),
                                dt.datetime(2026, 11, 23, tzinfo=dt.UTC)).decode()
    lines = _content_lines(body.replace("\r\n ", ""))
    names = [line.split(":")[0].split(";")[0] for line in lines]
    assert names.count("SUMMARY") == names.count("DESCRIPTION") == names.count("LOCATION") == 1


OPTIMISED = """
import datetime as dt, json, sys
from calsync.domain.event import CalendarEvent, EventKey
from calsync.feed import document
from calsync.formats import ical
assert False, "asserts are on"
names = json.loads(sys.argv[1])
start = dt.datetime(2026, 11, 24, 14, 30, tzinfo=dt.UTC)
out = []
for name in names:
    out.append(document._header(name, ("America/New_York",), 2026, 2027))
    event = CalendarEvent(summary=name, description=name, location=name, start=start,
                          end=start + dt.timedelta(minutes=50), timezone="America/New_York", all_day=False)
    out.append(ical.calendar_object(EventKey("i", "t", "a"), event, start).decode())
print(json.dumps(out))
"""


def test_under_python_O_nothing_raw_is_injected() -> None:
    # asserts are stripped under -O: the renderers must not rely on one (icalendar's own guard is one)
    names = ["Dr One\r\nX-INJECTED:1", "Dr One\nBEGIN:VEVENT", "Dr\x00One\x1b[31m", "Dr One\rEND:VCALENDAR"]
    run = subprocess.run([sys.executable, "-O", "-c", OPTIMISED, json.dumps(names)], capture_output=True,
                         text=True, check=True, env={"PYTHONPATH": ":".join(sys.path)})
    outputs = json.loads(run.stdout)
    for index, text in enumerate(outputs):
        lines = _content_lines(text.replace("\r\n ", ""))
        assert "X-INJECTED" not in [line.split(":")[0] for line in lines]
        if index % 2 == 0:  # a feed header
            assert "BEGIN:VEVENT" not in lines and "END:VCALENDAR" not in lines
        else:  # a CalDAV resource
            assert lines.count("BEGIN:VEVENT") == 1 and lines.index("END:VCALENDAR") == len(lines) - 1


@settings(max_examples=300)
@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=210) | st.sampled_from(["", " ", "\t", "a\x85", "x"]))
def test_the_published_label_pattern_accepts_exactly_what_the_check_accepts(value: str) -> None:
    """The integration API's document carries the same rule the model enforces (schemathesis relies on it)."""
    published = re.fullmatch(values.LABEL_PATTERN, value) is not None and len(value) <= values.SHORT_TEXT
    try:
        values.single_line()(value)
        checked = True
    except ValueError:
        checked = False
    assert published is checked
