"""Two-way sync from the connect page and the integration API: the calendars the clinician ticks as busy are
the integration's ``watch_calendars``; its channels start when it becomes active, and stop on pause, on a
direction change and on disconnect, whichever way they come (the API here, as the EHR's backend calls it)."""

from __future__ import annotations

import datetime as dt

import pytest

from calsync.store import busy, integrations, pulls, watches
from tests.support.connect import GOOGLE_USER, Api, Browser, Sims, google_consent, hidden
from tests.support.twoway import settle

FAMILY = "family@group.calendar.google.com"


@pytest.fixture
def api(connect_sims: Sims, tenant_id: str) -> Api:
    return Api(connect_sims.deployment, tenant_id)


def _connect_two_way(sims: Sims, api: Api) -> str:
    browser = Browser(sims.deployment.api.base_url)
    try:
        browser.connect_link(api.link("dr-okafor"))
        going = browser.settings("google", direction="two_way")
        assert browser.get(google_consent(sims, going.headers["location"])).headers["location"] == (
            "/connect/calendars")
        page = browser.get("/connect/calendars")
        done = browser.post("/connect/calendars", {"csrf": hidden(page.text, "csrf"), "busy": [FAMILY]})
        assert done.headers["location"] == "/connect/status"
    finally:
        browser.close()
    (found,) = api.call("GET", "/integrations?practitioner_id=dr-okafor").json()["integrations"]
    return str(found["integration_id"])


def _watched_calendars(sims: Sims) -> set[str]:
    return {channel.calendar_id for channel in sims.google.watch_channels()}


def test_two_way_chosen_on_the_page_watches_the_ticked_calendars_until_paused_switched_or_disconnected(
        connect_sims: Sims, api: Api) -> None:
    google, deployment = connect_sims.google, connect_sims.deployment
    google.channels.allow_http_loopback = True  # the local API's webhook URL (a deployment's is https)
    google.add_calendar(GOOGLE_USER, FAMILY, summary="Family")
    integration_id = _connect_two_way(connect_sims, api)
    stored = integrations.get(integration_id)
    assert stored is not None and stored.watch_calendars == (FAMILY,)
    assert api.integration(integration_id)["settings"]["watch_calendars"] == [FAMILY]
    settle(deployment, google)  # active: the pull it asked for starts a channel on each watched calendar
    assert _watched_calendars(connect_sims) == {stored.calendar_id, FAMILY}
    start = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(days=1)
    google.create_event(FAMILY, start, start + dt.timedelta(hours=1), "Swimming")
    settle(deployment, google)
    assert len(busy.of_integration(integration_id)) == 1

    assert api.call("POST", f"/integrations/{integration_id}/pause").json()["status"] == "paused"
    assert _watched_calendars(connect_sims) == set() and watches.of_integration(integration_id) == []
    settle(deployment, google)  # the busy time goes with the pull the pause asked for
    assert busy.of_integration(integration_id) == [] and pulls.state(integration_id) is None

    assert api.call("POST", f"/integrations/{integration_id}/resume", {"backfill": False}).status_code == 200
    settle(deployment, google)
    assert _watched_calendars(connect_sims) == {stored.calendar_id, FAMILY}
    assert len(busy.of_integration(integration_id)) == 1

    path = f"/integrations/{integration_id}/settings"
    assert api.call("PATCH", path, {"watch_calendars": []}).status_code == 200  # only the calendar it writes
    settle(deployment, google)
    assert _watched_calendars(connect_sims) == {stored.calendar_id} and busy.of_integration(integration_id) == []
    assert api.call("PATCH", path, {"direction": "push"}).status_code == 200
    assert _watched_calendars(connect_sims) == set()
    settle(deployment, google)
    assert pulls.state(integration_id) is None
    assert api.call("PATCH", path, {"direction": "two_way", "watch_calendars": [FAMILY]}).status_code == 200
    settle(deployment, google)
    assert _watched_calendars(connect_sims) == {stored.calendar_id, FAMILY}

    disconnected = api.call("POST", f"/integrations/{integration_id}/disconnect", {"remove_events": False})
    assert disconnected.status_code == 200, disconnected.text
    assert _watched_calendars(connect_sims) == set()  # stopped while the grant still worked, then revoked
    settle(deployment, google)
    assert busy.of_integration(integration_id) == [] and pulls.state(integration_id) is None
