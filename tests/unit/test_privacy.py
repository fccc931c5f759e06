"""Privacy rendering: every combination of settings, and a disabled field appears nowhere."""

from __future__ import annotations

import dataclasses
import itertools

import pytest

from calsync.domain.event import CalendarEvent
from calsync.domain.model import ClientDisplay, PrivacySettings
from calsync.domain.privacy import DEFAULT_TITLE, client_label, content_hash, render
from tests.support import appointments as f

TOGGLES = ("show_visit_type", "show_location", "show_notes", "show_practice_name", "show_deep_link",
           "show_telehealth_link", "private_visibility")


def _all_settings() -> list[PrivacySettings]:
    combos = []
    for display in ClientDisplay:
        for values in itertools.product((False, True), repeat=len(TOGGLES)):
            combos.append(PrivacySettings(client_display=display, **dict(zip(TOGGLES, values, strict=True))))
    return combos


def _text(event: CalendarEvent) -> str:
    return "\n".join(str(value) for value in dataclasses.asdict(event).values())


@pytest.mark.parametrize("settings", _all_settings(), ids=lambda s: f"{s.client_display}-{hash(s) & 0xffff}")
def test_disabled_fields_appear_nowhere(settings: PrivacySettings) -> None:
    event = render(f.appointment(), settings)
    assert event is not None
    text = _text(event)
    shown = {
        f.FIRST: settings.client_display in (ClientDisplay.FIRST_NAME, ClientDisplay.FULL_NAME),
        f.LAST: settings.client_display is ClientDisplay.FULL_NAME,
        f.INTERNAL: settings.client_display is ClientDisplay.INTERNAL_ID,
        f.VISIT: settings.show_visit_type,
        f.LOCATION: settings.show_location,
        f.ADDRESS: settings.show_location,
        f.NOTES: settings.show_notes,
        f.PRACTICE: settings.show_practice_name,
        f.DEEP_LINK: settings.show_deep_link,
        f.TELEHEALTH: settings.show_telehealth_link,
    }
    for value, allowed in shown.items():
        assert (value in text) == allowed, f"{value!r} shown={value in text} allowed={allowed}"
    assert event.private == settings.private_visibility
    # initials are the only trace of the name in initials mode
    if settings.client_display is ClientDisplay.INITIALS:
        assert "Z.Q." in text


def test_defaults_are_the_least_revealing_useful_choice() -> None:
    settings = PrivacySettings()
    event = render(f.appointment(), settings)
    assert event is not None
    text = _text(event)
    assert f.INTERNAL in text and f.DEEP_LINK in text
    for secret in (f.FIRST, f.LAST, f.NOTES, f.VISIT, f.TELEHEALTH):
        assert secret not in text
    assert event.private


@pytest.mark.parametrize("status", ["cancelled", "deleted"])
def test_cancelled_and_deleted_are_removed(status: str) -> None:
    assert render(f.appointment(status=status), PrivacySettings()) is None
    assert content_hash(None) == "absent"


@pytest.mark.parametrize("status", ["no_show", "completed"])
def test_no_show_and_completed_stay_and_say_so(status: str) -> None:
    event = render(f.appointment(status=status), PrivacySettings())
    assert event is not None and f"Status: {status.replace('_', ' ')}" in event.description


def test_title_without_anything_to_show() -> None:
    settings = PrivacySettings(client_display=ClientDisplay.NONE, show_practice_name=False)
    event = render(f.appointment(), settings)
    assert event is not None and event.summary == DEFAULT_TITLE


def test_times_and_zone_pass_through() -> None:
    appointment = f.appointment()
    event = render(appointment, PrivacySettings())
    assert event is not None
    assert (event.start, event.end, event.timezone, event.all_day) == (
        appointment.start, appointment.end, "America/New_York", False)


@pytest.mark.parametrize(
    ("client", "display", "label"),
    [
        (None, ClientDisplay.FULL_NAME, None),
        ({"id": "c"}, ClientDisplay.INTERNAL_ID, None),
        ({"id": "c", "internal_id": "7"}, ClientDisplay.FIRST_NAME, "#7"),
        ({"id": "c", "first_name": "ada"}, ClientDisplay.INITIALS, "A."),
        ({"id": "c", "first_name": "Ada", "last_name": "Lovelace"}, ClientDisplay.FULL_NAME, "Ada Lovelace"),
        ({"id": "c", "last_name": "Lovelace", "internal_id": "9"}, ClientDisplay.FIRST_NAME, "#9"),
        ({"id": "c", "first_name": "Ada", "internal_id": "9"}, ClientDisplay.NONE, None),
    ],
)
def test_client_label(client: dict[str, str] | None, display: ClientDisplay, label: str | None) -> None:
    appointment = f.appointment(client=client)
    assert client_label(appointment.client, display) == label


def test_hash_changes_with_content_and_only_with_content() -> None:
    a = render(f.appointment(), PrivacySettings())
    b = render(f.appointment(version=2, updated_at="2026-11-24T00:00:00Z"), PrivacySettings())
    c = render(f.appointment(start="2026-11-24T09:45:00-05:00"), PrivacySettings())
    assert content_hash(a) == content_hash(b)
    assert content_hash(a) != content_hash(c)
    d = render(f.appointment(), PrivacySettings(show_visit_type=True))
    assert content_hash(a) != content_hash(d)
