"""A practice's privacy policy, end to end: on CalDAV (Radicale), Google and Microsoft (simulators) and
the feed (over HTTP), read back from the servers themselves. A sensitive appointment shows only busy
whatever the clinician chose, a consumer account never receives a full name, and tightening or loosening
the policy rewrites what was already pushed within one sweeper run."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from calsync.domain.disclosure import POLICY_CHANGED
from calsync.domain.model import ClientDisplay, PrivacySettings
from calsync.domain.policy import DestinationKind, PrivacyPolicy
from calsync.services import engine, feeds, policies, sweeper
from calsync.services.accounting import accounting
from calsync.store import integrations
from devstack.calendar_reader import read_calendar
from devstack.clinicians import connect_caldav
from devstack.deployment import Deployment
from devstack.oauth_clinicians import connect_google, connect_microsoft
from devstack.sims.google import GoogleCalendarSimulator
from devstack.sims.microsoft import MicrosoftGraphSimulator
from devstack.stack import LocalStack, StackResources
from tests.support import appointments as f
from tests.support.feeds import fetch
from tests.support.reliability import received, status_events_queue

EVERYTHING = PrivacySettings(client_display=ClientDisplay.FULL_NAME, show_visit_type=True, show_notes=True)
FULL_NAME = f"{f.FIRST} {f.LAST}"
PATIENT = [f.FIRST, f.LAST, f.NOTES, f.VISIT]


def booking(tenant_id: str, appointment_id: str, hour: int, minute: int = 0, **fields: Any) -> Any:
    start = (dt.datetime.now(dt.UTC) + dt.timedelta(days=2)).replace(hour=hour, minute=0, second=0, microsecond=0)
    stamp = (dt.datetime.now(dt.UTC) - dt.timedelta(seconds=60 - minute)).isoformat()
    return f.appointment(tenant_id=tenant_id, appointment_id=appointment_id, practitioner_id="dr-pol",
                         start=start.isoformat(), end=(start + dt.timedelta(minutes=50)).isoformat(),
                         updated_at=stamp, **fields)


def test_a_practice_policy_reaches_every_calendar_and_applies_to_what_was_pushed(
        deployment: Deployment, stack: LocalStack, stack_resources: StackResources, tenant_id: str,
        google_sim: GoogleCalendarSimulator, microsoft_sim: MicrosoftGraphSimulator) -> None:
    caldav = connect_caldav(stack, tenant_id=tenant_id, practitioner_id="dr-pol", privacy=EVERYTHING)
    google = connect_google(stack, google_sim, tenant_id=tenant_id, practitioner_id="dr-pol", privacy=EVERYTHING,
                            user="dr.pol@gmail.com")
    graph = connect_microsoft(stack, microsoft_sim, tenant_id=tenant_id, practitioner_id="dr-pol",
                              privacy=EVERYTHING, user="dr.pol@mainstreet.example")
    for clinician in (google, graph):  # the account the clinician connected (the connect page records it)
        integrations.put(clinician.integration.model_copy(update={"account": clinician.user}))
    _, issued = feeds.create_feed(tenant_id, "dr-pol", privacy=EVERYTHING, backfill=False)
    announced = status_events_queue(stack, stack_resources.event_bus_name, tenant_id, policies.DETAIL_TYPE)

    def calendars() -> dict[str, str]:
        """Everything each server holds for this clinician, as text."""
        return {
            "caldav": "\n".join(e.raw for e in read_calendar(caldav.calendar_url, caldav.username, caldav.password)),
            "google": json.dumps(google_sim.events(google.user)),
            "graph": json.dumps(microsoft_sim.events(graph.user, graph.integration.calendar_id)),
            "feed": fetch(deployment.api, issued.token).body.decode().replace("\r\n ", ""),
        }

    therapy = booking(tenant_id, "apt-therapy", 9, visit_type="Psychotherapy")
    checkup = booking(tenant_id, "apt-checkup", 11)
    marked = booking(tenant_id, "apt-marked", 13, schema_version=2, sensitive=True, visit_type="Sexual health",
                     client={"id": "c-9", "first_name": "Marisol", "last_name": "Quent"})
    for change in (therapy, checkup, marked):
        engine.handle_change(change)
    held = calendars()
    assert all(FULL_NAME in text and "Psychotherapy" in text for text in held.values())
    # the EHR's own mark (schema version 2): busy only, with no practice policy at all
    assert all("Marisol" not in text and "Quent" not in text and "Sexual health" not in text for text in held.values())
    assert all(text.count("Busy") == 1 for text in held.values())

    # the practice marks psychotherapy sensitive and caps consumer accounts and feeds at initials
    now = dt.datetime.now(dt.UTC)
    tight = PrivacyPolicy(sensitive_visit_types=frozenset({"psychotherapy"}), managed_domains=frozenset({
        "mainstreet.example"}), caps={DestinationKind.CONSUMER: ClientDisplay.INITIALS,
                                     DestinationKind.FEED: ClientDisplay.INITIALS})
    version = policies.change(tenant_id, tight, None, now)
    report = sweeper.run(now + dt.timedelta(seconds=2 * policies.CACHE_SECONDS + 1))
    assert report.resynced > 0
    held = calendars()
    assert all("Psychotherapy" not in text and text.count("Busy") == 2 for text in held.values())
    assert all(FULL_NAME not in held[kind] and "Z.Q." in held[kind] for kind in ("caldav", "google", "feed"))
    assert FULL_NAME in held["graph"]  # the practice's own tenant keeps what the clinician chose
    assert [e["detail"]["version"] for e in received(stack, announced)] == [version]

    explanation = policies.explain(tenant_id, google.integration.integration_id, "apt-therapy")
    rules = {d.field: d.rule for d in explanation.fields}
    assert explanation.busy_only and rules["client"] == "policy: sensitive visit type"
    assert rules["notes"] == "policy: sensitive visit type" and explanation.destination == "consumer"

    # loosening applies the same way
    policies.change(tenant_id, PrivacyPolicy(), version, now)
    sweeper.run(now + dt.timedelta(seconds=4 * policies.CACHE_SECONDS + 2))
    assert all(FULL_NAME in text and "Psychotherapy" in text for text in calendars().values())


def test_the_policy_commands_show_set_and_explain(stack: LocalStack, tenant_id: str, tmp_path: Any,
                                                  capsys: Any) -> None:
    from calsync.cli import policies as command

    clinician = connect_caldav(stack, tenant_id=tenant_id, practitioner_id="dr-pol", privacy=EVERYTHING)
    engine.handle_change(booking(tenant_id, "apt-1", 10))
    capsys.readouterr()  # the handler's own log lines
    assert command.main(["show", "--tenant", tenant_id]) == 0
    assert json.loads(capsys.readouterr().out)["version"] is None
    policy_file = tmp_path / "policy.json"
    policy_file.write_text(json.dumps({"opted_out_clients": ["c-1"], "busy_title": "Unavailable"}))
    assert command.main(["set", "--tenant", tenant_id, "--file", str(policy_file)]) == 0
    assert json.loads(capsys.readouterr().out)["version"] == 1
    assert command.main(["explain", "--tenant", tenant_id, "--integration", clinician.integration.integration_id,
                         "--appointment", "apt-1"]) == 0
    explained = json.loads(capsys.readouterr().out)
    assert explained["busy_only"] and explained["policy_version"] == 1
    assert not any(d["shown"] for d in explained["fields"])
    assert {d["rule"] for d in explained["fields"]} == {"policy: the patient opted out of calendar details",
                                                        "clinician: show_telehealth_link is off"}
    policy_file.write_text(json.dumps({"title_template": "{notes}"}))
    assert command.main(["set", "--tenant", tenant_id, "--file", str(policy_file)]) == 1
    assert "title_template" in capsys.readouterr().err


def test_each_patients_accounting_shows_the_policy_changes_of_the_period(stack: LocalStack, tenant_id: str) -> None:
    connect_caldav(stack, tenant_id=tenant_id, practitioner_id="dr-pol", privacy=EVERYTHING)
    engine.handle_change(booking(tenant_id, "apt-1", 10))
    first = policies.change(tenant_id, PrivacyPolicy(opted_out_clients=frozenset({"c-9"}), busy_title="Away"), None)
    policies.change(tenant_id, PrivacyPolicy(detail_days=14), first)
    start, end = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1), dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)

    rows = accounting(tenant_id, "c-1", start, end)
    changes = [(r.appointment_id, r.destination, r.fields, r.outcome) for r in rows if r.outcome == POLICY_CHANGED]
    assert changes == [("policy-v1", "policy", ("busy_title", "opted_out_clients"), POLICY_CHANGED),
                       ("policy-v2", "policy", ("detail_days",), POLICY_CHANGED)]
    assert [r.client_id for r in rows if r.outcome != POLICY_CHANGED] == ["c-1"]  # the write of apt-1
    assert "c-9" not in repr(rows)  # the rules are named, never their values
    assert [r.at for r in rows] == sorted(r.at for r in rows)
    assert accounting(tenant_id, "c-1", end, end + dt.timedelta(hours=1)) == []


def test_details_arrive_as_an_appointment_comes_inside_the_policys_horizon(stack: LocalStack, tenant_id: str) -> None:
    caldav = connect_caldav(stack, tenant_id=tenant_id, practitioner_id="dr-pol", privacy=EVERYTHING)
    now = dt.datetime.now(dt.UTC)
    policies.change(tenant_id, PrivacyPolicy(detail_days=5), None, now)
    later = booking(tenant_id, "apt-later", 10)
    start = now + dt.timedelta(days=7)
    later = later.model_copy(update={"start": start, "end": start + dt.timedelta(minutes=50)})
    engine.handle_change(later)

    def shown() -> str:
        return "\n".join(e.raw for e in read_calendar(caldav.calendar_url, caldav.username, caldav.password))

    assert "Busy" in shown() and FULL_NAME not in shown()  # a week ahead: beyond the 5-day horizon
    sweeper.run(now + dt.timedelta(seconds=2 * policies.CACHE_SECONDS + 1))  # the horizon's first pass
    assert FULL_NAME not in shown()
    sweeper.run(now + dt.timedelta(days=3))  # three days on, it is four days ahead: inside
    assert FULL_NAME in shown() and "Busy" not in shown()
