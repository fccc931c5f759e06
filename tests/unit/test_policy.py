"""Practice privacy policies (``calsync.domain.policy``): what each rule removes, for which destination,
and that nothing a policy removes reaches any provider's body or any feed byte."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from calsync.domain.event import EventKey
from calsync.domain.model import ClientDisplay, Integration, PrivacySettings, Provider
from calsync.domain.policy import (
    NO_POLICY,
    DestinationKind,
    PrivacyPolicy,
    destination_kind,
    fill_template,
    restrict,
)
from calsync.domain.privacy import render
from calsync.formats import ical
from calsync.providers import google, microsoft
from tests.support import appointments as f

NOW = dt.datetime(2026, 11, 23, 15, 0, tzinfo=dt.UTC)
EVERYTHING = PrivacySettings(client_display=ClientDisplay.FULL_NAME, show_visit_type=True, show_location=True,
                             show_notes=True, show_practice_name=True, show_deep_link=True, show_telehealth_link=True,
                             private_visibility=False)
MARKERS = {"client": [f.FIRST, f.LAST, f.INTERNAL], "visit_type": [f.VISIT], "location": [f.LOCATION, f.ADDRESS],
           "notes": [f.NOTES], "practice": [f.PRACTICE], "deep_link": [f.DEEP_LINK], "telehealth": [f.TELEHEALTH]}
KEY = EventKey("int-1", "tenant-1", "apt-1")


def shown(policy: PrivacyPolicy | None, destination: DestinationKind = DestinationKind.MANAGED,
          settings_: PrivacySettings = EVERYTHING, **appointment: Any) -> dict[str, bool]:
    restricted = restrict(settings_, policy, f.appointment(**appointment), destination, NOW)
    return {d.field: d.shown for d in restricted.decisions}


def integration(provider: Provider = Provider.GOOGLE, **fields: Any) -> Integration:
    return Integration(integration_id="int-1", tenant_id="tenant-1", practitioner_id="dr-1", provider=provider,
                       calendar_id=fields.pop("calendar_id", "primary"), **fields)


def test_no_policy_leaves_the_clinicians_choice_alone() -> None:
    assert all(shown(None).values())


def test_a_sensitive_visit_type_shows_only_busy_whatever_the_clinician_chose() -> None:
    policy = PrivacyPolicy(sensitive_visit_types=frozenset({f.VISIT.upper()}))  # matched without case
    assert not any(shown(policy).values())
    event = render(f.appointment(), EVERYTHING, policy=policy, destination=DestinationKind.MANAGED, now=NOW)
    assert event is not None and event.summary == "Busy" and event.private and event.url is None
    text = f"{event.summary}{event.description}{event.location}"
    assert [m for ms in MARKERS.values() for m in ms if m in text] == []


def test_busy_only_may_keep_the_practice_name_when_the_policy_says_so() -> None:
    policy = PrivacyPolicy(opted_out_clients=frozenset({"c-1"}), busy_shows_practice=True, busy_title="Blocked")
    assert shown(policy) == {**dict.fromkeys(MARKERS, False), "practice": True}
    event = render(f.appointment(), EVERYTHING, policy=policy, destination=DestinationKind.MANAGED, now=NOW)
    assert event is not None and event.summary == f"[{f.PRACTICE}] Blocked" and f.PRACTICE in event.description


def test_details_stop_at_the_horizon() -> None:
    policy = PrivacyPolicy(detail_days=14)
    near = (NOW + dt.timedelta(days=3)).isoformat()
    far = (NOW + dt.timedelta(days=20)).isoformat()
    assert all(shown(policy, start=near, end=(NOW + dt.timedelta(days=3, hours=1)).isoformat()).values())
    assert not any(shown(policy, start=far, end=(NOW + dt.timedelta(days=20, hours=1)).isoformat()).values())


@pytest.mark.parametrize(("destination", "summary"), [
    (DestinationKind.CONSUMER, "Z.Q."), (DestinationKind.FEED, "#MRN-77Q1"),
    (DestinationKind.MANAGED, f"{f.FIRST} {f.LAST}")])
def test_each_destination_kind_gets_at_most_its_cap(destination: DestinationKind, summary: str) -> None:
    policy = PrivacyPolicy(caps={DestinationKind.CONSUMER: ClientDisplay.INITIALS,
                                 DestinationKind.FEED: ClientDisplay.INTERNAL_ID})
    event = render(f.appointment(), PrivacySettings(client_display=ClientDisplay.FULL_NAME), policy=policy,
                   destination=destination, now=NOW)
    assert event is not None and summary in event.summary


def test_a_cap_never_raises_what_the_clinician_chose() -> None:
    policy = PrivacyPolicy(caps={DestinationKind.CONSUMER: ClientDisplay.FULL_NAME})
    restricted = restrict(PrivacySettings(client_display=ClientDisplay.INITIALS), policy, f.appointment(),
                          DestinationKind.CONSUMER, NOW)
    assert restricted.settings.client_display is ClientDisplay.INITIALS


@pytest.mark.parametrize(("kind", "fields"), [
    (DestinationKind.CONSUMER, {"account": "dr.lee@gmail.com"}),
    (DestinationKind.CONSUMER, {"account": "dr.lee@unlisted-clinic.example"}),
    (DestinationKind.MANAGED, {"account": "dr.lee@mainstreet.example"}),
    (DestinationKind.MANAGED, {"provider": Provider.MICROSOFT, "options": {"tenant_id": "tenant-guid-1"}}),
    (DestinationKind.CONSUMER, {"provider": Provider.MICROSOFT, "account": "dr.lee@outlook.com"}),
    (DestinationKind.CONSUMER, {"provider": Provider.CALDAV, "calendar_id": "https://p12-caldav.icloud.com/1/c/"}),
    (DestinationKind.MANAGED, {"provider": Provider.CALDAV, "calendar_id": "https://dav.mainstreet.example/c/"}),
    (DestinationKind.FEED, {"provider": Provider.ICS, "calendar_id": "feed_1"}),
    (DestinationKind.CONSUMER, {}),  # nothing known: the stricter kind
])
def test_destination_kinds(kind: DestinationKind, fields: dict[str, Any]) -> None:
    policy = PrivacyPolicy(managed_domains=frozenset({"mainstreet.example", "tenant-guid-1"}))
    assert destination_kind(integration(**fields), policy) is kind


def test_a_title_template_orders_the_fields_and_hidden_ones_take_their_separator_along() -> None:
    policy = PrivacyPolicy(title_template="{visit_type} · {client} · {location}")
    settings_ = PrivacySettings(client_display=ClientDisplay.INITIALS, show_visit_type=True, show_location=False)
    event = render(f.appointment(), settings_, policy=policy, destination=DestinationKind.MANAGED, now=NOW)
    assert event is not None and event.summary == f"{f.VISIT} · Z.Q."
    assert fill_template("{client} · {visit_type}", {"client": None, "visit_type": "Check-up"}) == "Check-up"
    assert fill_template("{client}", {"client": None}) == ""


@pytest.mark.parametrize("template", ["{client} {notes}", "{client!r}", "{client:>10}", "no fields", "{client}\x1b",
                                      "{", "{0}"])
def test_a_title_template_may_name_only_the_fields_it_can_show(template: str) -> None:
    with pytest.raises(ValidationError):
        PrivacyPolicy(title_template=template)


@pytest.mark.parametrize("policy", [{"busy_title": "Busy\nEvil: 1"}, {"sensitive_visit_types": ["ok", "\x00"]},
                                    {"managed_domains": ["bad domain"]}, {"detail_days": -1}, {"unknown": 1}])
def test_policies_are_validated_where_they_enter(policy: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        PrivacyPolicy.model_validate(policy)


def test_the_explanation_names_the_rule_behind_each_field() -> None:
    policy = PrivacyPolicy(caps={DestinationKind.CONSUMER: ClientDisplay.INITIALS})
    decisions = {d.field: d for d in restrict(PrivacySettings(client_display=ClientDisplay.FULL_NAME), policy,
                                              f.appointment(), DestinationKind.CONSUMER, NOW).decisions}
    assert decisions["client"].shown and "consumer destinations show the client as initials" in decisions["client"].rule
    assert not decisions["notes"].shown and decisions["notes"].rule == "clinician: show_notes is off"


# -- the property: removed means absent everywhere, and the most restrictive rule wins -------------------

displays = st.sampled_from(list(ClientDisplay))
policies = st.builds(
    PrivacyPolicy,
    sensitive_visit_types=st.sets(st.sampled_from([f.VISIT, "other"])).map(frozenset),
    opted_out_clients=st.sets(st.sampled_from(["c-1", "c-2"])).map(frozenset),
    busy_shows_practice=st.booleans(),
    caps=st.dictionaries(st.sampled_from(list(DestinationKind)), displays),
    detail_days=st.one_of(st.none(), st.integers(0, 30)),
    title_template=st.sampled_from([None, "{client} · {visit_type}", "{visit_type}: {client} @ {location}"]),
)
clinician_settings = st.builds(PrivacySettings, client_display=displays, show_visit_type=st.booleans(),
                               show_location=st.booleans(), show_notes=st.booleans(),
                               show_practice_name=st.booleans(), show_deep_link=st.booleans(),
                               show_telehealth_link=st.booleans())
starts = st.integers(1, 40).map(lambda days: NOW + dt.timedelta(days=days))


def bodies(event: Any) -> str:
    """Every byte a provider would send or a feed would serve for this event."""
    return "\n".join([str(google.event_body(KEY, event)), str(microsoft.event_body(event)),
                      ical.calendar_object(KEY, event, NOW).decode(),
                      ical.build_vevent(KEY, event, NOW).to_ical().decode()])


def _unfolded(text: str) -> str:
    return text.replace("\r\n ", "").replace("\\,", ",").replace("\\;", ";").replace("\\n", "\n")


@settings(max_examples=400, deadline=None)
@given(policy=policies, settings_=clinician_settings, destination=st.sampled_from(list(DestinationKind)),
       start=starts)
def test_a_field_removed_by_any_rule_reaches_no_provider_body_and_no_feed_byte(
        policy: PrivacyPolicy, settings_: PrivacySettings, destination: DestinationKind, start: dt.datetime) -> None:
    appointment = f.appointment(start=start.isoformat(), end=(start + dt.timedelta(hours=1)).isoformat())
    restricted = restrict(settings_, policy, appointment, destination, NOW)
    event = render(appointment, settings_, policy=policy, destination=destination, now=NOW)
    assert event is not None
    sent = _unfolded(bodies(event))
    for decision in restricted.decisions:
        if not decision.shown:
            for marker in MARKERS[decision.field]:
                if decision.field == "client" and marker == f.INTERNAL:
                    continue  # an internal id is how "#MRN" shows: checked through the display below
                assert marker not in sent, (decision, marker)
    if restricted.settings.client_display is not ClientDisplay.FULL_NAME:
        assert f"{f.FIRST} {f.LAST}" not in sent


@settings(max_examples=300, deadline=None)
@given(policy=policies, settings_=clinician_settings, destination=st.sampled_from(list(DestinationKind)),
       start=starts, extra=st.sampled_from(["sensitive", "opt_out", "cap", "horizon"]))
def test_the_most_restrictive_rule_wins(policy: PrivacyPolicy, settings_: PrivacySettings,
                                        destination: DestinationKind, start: dt.datetime, extra: str) -> None:
    appointment = f.appointment(start=start.isoformat(), end=(start + dt.timedelta(hours=1)).isoformat())
    tightenings: dict[str, dict[str, Any]] = {
        "sensitive": {"sensitive_visit_types": policy.sensitive_visit_types | {f.VISIT}},
        "opt_out": {"opted_out_clients": policy.opted_out_clients | {"c-1"}},
        "cap": {"caps": {**policy.caps, destination: ClientDisplay.NONE}},
        "horizon": {"detail_days": 0},
    }
    stricter = PrivacyPolicy.model_validate({**policy.model_dump(), **tightenings[extra]})  # validated, as stored
    if extra == "sensitive":  # busy-only: nothing but, if the policy allows, the practice
        assert {d.field for d in restrict(settings_, stricter, appointment, destination, NOW).decisions
                if d.shown} <= {"practice"}

    def fields(p: PrivacyPolicy | None) -> set[str]:
        return {d.field for d in restrict(settings_, p, appointment, destination, NOW).decisions if d.shown}

    assert fields(stricter) <= fields(policy) <= fields(None)


@given(policies)
def test_the_rules_in_force_are_exactly_those_that_differ_from_no_policy(policy: PrivacyPolicy) -> None:
    named = set(policy.rules_in_force())
    assert named == {name for name in PrivacyPolicy.model_fields if getattr(policy, name) != getattr(NO_POLICY, name)}
    assert PrivacyPolicy(**{name: getattr(policy, name) for name in named}) == policy
    assert NO_POLICY.rules_in_force() == ()
