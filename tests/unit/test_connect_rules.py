"""The connect page's pure rules: connect links (format, tampering, expiry), the fewest scopes for each
choice, granted scopes checked, the live preview rendered by the privacy rendering itself, and the
integration API's tenant taken from the caller's IAM identity only."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from calsync.domain import connect as rules
from calsync.domain.connect import CalendarTarget, Choices, LinkClaims
from calsync.domain.model import ClientDisplay, Direction, PrivacySettings, Provider
from calsync.domain.privacy import render
from calsync.services.connect import api, pages

NOW = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)
IDS = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._:@-]{0,40}", fullmatch=True)


@given(IDS, IDS, st.one_of(st.none(), IDS))
def test_a_link_reads_back_what_it_says(tenant, practitioner, reconnect):
    claims = LinkClaims(rules.new_secret(), tenant, practitioner, NOW, reconnect)
    decoded, payload, mac = rules.decode_link(rules.encode_link(claims, b"m" * 32))
    assert decoded == claims and payload == claims.payload() and mac == b"m" * 32


@pytest.mark.parametrize("token", ["", "abc", "a.b.c", "!!!.???", "e30.AA", "x" * 2000 + ".y"])
def test_anything_else_is_not_a_link(token):
    with pytest.raises(rules.MalformedLinkError):
        rules.decode_link(token)


def test_a_link_expires():
    claims = LinkClaims("id", "t", "p", NOW + rules.LINK_LIFETIME)
    assert not claims.expired(NOW) and claims.expired(NOW + rules.LINK_LIFETIME)


def test_secrets_are_stored_as_digests_only():
    secret = rules.new_secret()
    assert len(secret) >= 43 and rules.digest(secret) != secret and len(rules.digest(secret)) == 64


@pytest.mark.parametrize(("direction", "target", "expected"), [
    (Direction.PUSH, CalendarTarget.DEDICATED, ["calendar.app.created"]),
    (Direction.PUSH, CalendarTarget.EXISTING, ["calendar.calendarlist.readonly", "calendar.events"]),
    (Direction.PULL, CalendarTarget.DEDICATED, ["calendar.calendarlist.readonly", "calendar.events.readonly"]),
    (Direction.TWO_WAY, CalendarTarget.DEDICATED,
     ["calendar.app.created", "calendar.calendarlist.readonly", "calendar.events.readonly"]),
    (Direction.TWO_WAY, CalendarTarget.EXISTING,
     ["calendar.calendarlist.readonly", "calendar.events", "calendar.events.readonly"]),
])
def test_google_gets_only_the_scopes_a_choice_needs(direction, target, expected):
    assert rules.google_scopes(direction, target) == [rules.GOOGLE_SCOPE + s for s in expected]


def test_microsoft_reads_only_for_pull():
    assert rules.microsoft_scopes(Direction.PULL) == [rules.GRAPH_SCOPE + "Calendars.Read"]
    assert rules.microsoft_scopes(Direction.TWO_WAY) == [rules.GRAPH_SCOPE + "Calendars.ReadWrite"]


def test_missing_scopes():
    asked = rules.google_scopes(Direction.PUSH, CalendarTarget.EXISTING)
    assert rules.missing_scopes(asked, " ".join(asked)) == []
    assert rules.missing_scopes(asked, asked[:1]) == asked[1:]
    assert rules.missing_scopes(asked, None) == asked


def test_calendars_are_picked_after_consent_only_when_needed():
    assert not Choices(provider=Provider.GOOGLE).needs_calendar_choice
    assert Choices(provider=Provider.GOOGLE, target=CalendarTarget.EXISTING).needs_calendar_choice
    assert Choices(provider=Provider.GOOGLE, direction=Direction.TWO_WAY).needs_calendar_choice


@given(st.sampled_from(list(ClientDisplay)), st.booleans(), st.booleans(), st.booleans(), st.booleans(),
       st.one_of(st.none(), st.integers(0, 40320)))
def test_the_preview_is_the_privacy_rendering_itself(display, visit, notes, location, practice, reminder):
    privacy = PrivacySettings(client_display=display, show_visit_type=visit, show_notes=notes,
                              show_location=location, show_practice_name=practice, reminder_minutes=reminder)
    shown = render(rules.sample_appointment(), privacy)
    assert shown is not None
    preview = pages.preview_of(privacy)
    assert preview["summary"] == shown.summary and preview["description"] == shown.description.split("\n")
    assert preview["location"] == shown.location and preview["reminder"] == reminder
    assert ("Review lab results" in shown.description) == notes


IAM = {"accountId": "123456789012", "userArn": "arn:aws:iam::123456789012:user/calsync-local/calsync-tenant-acme"}


@pytest.mark.parametrize(("iam", "tenant"), [
    (IAM, "acme"),
    ({**IAM, "userArn": "arn:aws:sts::123456789012:assumed-role/calsync-tenant-north.side/session-1"}, "north.side"),
])
def test_the_tenant_is_the_callers_role_or_user_name(iam, tenant):
    assert api.tenant_of(iam, "123456789012") == tenant


@pytest.mark.parametrize("iam", [
    None, {},
    {**IAM, "accountId": "999999999999"},  # another account, even with the right name
    {**IAM, "userArn": "arn:aws:iam::123456789012:user/ehr-backend"},
    {**IAM, "userArn": "arn:aws:iam::123456789012:root"},
    {**IAM, "userArn": "arn:aws:iam::123456789012:user/calsync-tenant-"},
    {**IAM, "userArn": "arn:aws:iam::123456789012:user/calsync-tenant-%2e%2e"},
    {**IAM, "userArn": "arn:aws:sts::123456789012:federated-user/calsync-tenant-acme"},
])
def test_callers_that_name_no_tenant_are_refused(iam):
    with pytest.raises(api.CallerError):
        api.tenant_of(iam, "123456789012")
