"""The connect page's OAuth paths against the local deployment and the simulators: Google (google-auth-
oauthlib's flow) and Microsoft (msal's auth-code flow, form_post handed on within the site), PKCE S256,
the fewest scopes, one-time states, exact redirect URIs; forged states, replayed codes and callbacks,
denied consent and unticked scopes are refused with nothing stored; the first event arrives."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from calsync.domain.model import IntegrationStatus
from calsync.store import integrations
from tests.support.connect import (
    GOOGLE_USER,
    MS_USER,
    Api,
    Browser,
    Sims,
    appointment_entry,
    dump_secrets,
    dump_tables,
    google_consent,
    hidden,
    microsoft_consent,
)
from tests.support.pipeline import deliver
from tests.support.simulators import forget_calsync_state

APP_CREATED = "https://www.googleapis.com/auth/calendar.app.created"


@pytest.fixture
def browser(connect_sims: Sims) -> Browser:
    return Browser(connect_sims.deployment.api.base_url)


def session_integration(api: Api, practitioner: str) -> dict[str, object]:
    answer = api.call("GET", f"/integrations?practitioner_id={practitioner}")
    assert answer.status_code == 200, answer.text
    (found,) = answer.json()["integrations"]
    return dict(found)


def test_google_connect_with_pkce_and_minimal_scopes_then_the_first_event_arrives(connect_sims, api, browser):
    browser.connect_link(api.link("dr-okafor"))
    going = browser.settings("google", client_display="initials", reminder_minutes="15")
    assert going.status_code == 303
    authorize = urlsplit(going.headers["location"])
    query = {k: v[0] for k, v in parse_qs(authorize.query).items()}
    assert authorize.geturl().startswith(connect_sims.google.authorize_uri)
    assert query["code_challenge_method"] == "S256" and len(query["code_challenge"]) == 43
    assert query["scope"] == APP_CREATED + " openid email"  # a dedicated calendar needs nothing more (and who)
    assert query["redirect_uri"] == connect_sims.deployment.api.base_url + "/connect/oauth/google/callback"
    assert query["access_type"] == "offline" and len(query["state"]) >= 43

    back = browser.get(google_consent(connect_sims, going.headers["location"]))
    assert back.status_code == 303 and back.headers["location"] == "/connect/status"
    found = session_integration(api, "dr-okafor")
    assert found["status"] == "active" and found["provider"] == "google"  # the first (empty) resync is done
    assert found["account"] == GOOGLE_USER  # from the ID token: the practice policy's cap goes by its domain
    calendar_id = str(found["settings"]["calendar_id"])  # type: ignore[index]
    assert [c["summary"] for c in connect_sims.google.calendars(GOOGLE_USER) if c["id"] == calendar_id] == [
        "Clinic appointments"]
    secret = str(integrations.get(str(found["integration_id"])).secret_ref)  # type: ignore[union-attr]
    assert f":secret:calsync/{api.tenant_id}/integrations/" in secret

    stack = connect_sims.deployment.stack
    forget_calsync_state()  # a cold worker: it refreshes the token with the deployment's OAuth client
    deliver(stack, stack.resources, [appointment_entry(api.tenant_id, "dr-okafor")])
    (event,) = connect_sims.google.events(calendar_id)
    assert event["summary"] == "[Main Street Family Practice] J.R."
    assert event["reminders"] == {"useDefault": False, "overrides": [{"method": "popup", "minutes": 15}]}
    assert "attendees" not in event
    status = browser.get("/connect/status")
    assert "Status: active" in status.text and "<dd data-events>1</dd>" in status.text


def test_a_callback_is_taken_once_forged_states_and_replays_change_nothing(connect_sims, api, browser):
    browser.connect_link(api.link("dr-okafor"))
    going = browser.settings("google")
    callback = google_consent(connect_sims, going.headers["location"])
    forged = callback.replace("state=", "state=x")
    refused = browser.get(forged)
    assert refused.status_code == 400 and 'data-problem="state"' in refused.text
    assert browser.get(callback).status_code == 303  # the real one still works: a forged state took nothing
    replay = browser.get(callback)
    assert replay.status_code == 400 and 'data-problem="state"' in replay.text
    assert len(api.call("GET", "/integrations?practitioner_id=dr-okafor").json()["integrations"]) == 1


def test_a_callback_in_another_browser_is_refused(connect_sims, api, browser):
    browser.connect_link(api.link("dr-okafor"))
    callback = google_consent(connect_sims, browser.settings("google").headers["location"])
    other = Browser(connect_sims.deployment.api.base_url)
    other.connect_link(api.link("dr-okafor"))
    refused = other.get(callback)
    assert refused.status_code == 400 and 'data-problem="state"' in refused.text
    assert api.call("GET", "/integrations?practitioner_id=dr-okafor").json()["integrations"] == []


def test_a_reused_code_and_a_wrong_pkce_verifier_are_refused_by_the_provider(connect_sims):
    from calsync.core.settings import get_settings
    from calsync.oauth import consent

    settings = get_settings()
    client = consent.OAuthClient("calsync-local-client", "calsync-local-client-secret")
    redirect = connect_sims.deployment.api.base_url + "/connect/oauth/google/callback"
    url, flow = consent.google_start(client, [APP_CREATED], redirect, "state-1",
                                     authorize_uri=settings.google_authorize_uri, token_uri=settings.google_token_uri)
    code = parse_qs(urlsplit(google_consent(connect_sims, url)).query)["code"][0]
    wrong = {**flow, "code_verifier": "w" * 64}
    with pytest.raises(consent.ConsentError) as refused:
        consent.google_finish(client, wrong, code, authorize_uri=settings.google_authorize_uri,
                              token_uri=settings.google_token_uri, timeout=5)
    assert refused.value.reason == "invalid_grant"
    url, flow = consent.google_start(client, [APP_CREATED], redirect, "state-2",
                                     authorize_uri=settings.google_authorize_uri, token_uri=settings.google_token_uri)
    code = parse_qs(urlsplit(google_consent(connect_sims, url)).query)["code"][0]
    granted = consent.google_finish(client, flow, code, authorize_uri=settings.google_authorize_uri,
                                    token_uri=settings.google_token_uri, timeout=5)
    with pytest.raises(consent.ConsentError):
        consent.google_finish(client, flow, code, authorize_uri=settings.google_authorize_uri,
                              token_uri=settings.google_token_uri, timeout=5)
    # a replayed code also revokes what it produced (RFC 6749 §4.1.2), as Google does
    assert connect_sims.google.tokens_in(str(granted.secret)) == []


def test_denied_consent_shows_a_clear_page_and_stores_nothing(connect_sims, api, browser):
    browser.connect_link(api.link("dr-okafor"))
    denied = browser.get(google_consent(connect_sims, browser.settings("google").headers["location"], allow=False))
    assert denied.status_code == 403 and 'data-problem="denied"' in denied.text
    assert api.call("GET", "/integrations?practitioner_id=dr-okafor").json()["integrations"] == []
    assert f"calsync/{api.tenant_id}/" not in dump_secrets(connect_sims.deployment.stack)


def test_an_unticked_scope_is_refused_and_the_consent_handed_back(connect_sims, api, browser):
    browser.connect_link(api.link("dr-okafor"))
    going = browser.settings("google", target="existing")
    callback = google_consent(connect_sims, going.headers["location"],
                              scopes=["https://www.googleapis.com/auth/calendar.events"])
    refused = browser.get(callback)
    assert refused.status_code == 403 and 'data-problem="scopes_missing"' in refused.text
    assert api.call("GET", "/integrations?practitioner_id=dr-okafor").json()["integrations"] == []
    issued = connect_sims.google.issued_refresh_tokens(GOOGLE_USER)
    assert issued and connect_sims.google.tokens_in(" ".join(issued)) == []  # revoked


def test_without_the_identity_scopes_the_calendar_connects_with_no_account(connect_sims, api, browser):
    """``openid email`` only tell who signed in (the practice policy's cap goes by the account's domain):
    unticking them still connects, and the calendar counts as a consumer account, the stricter cap."""
    browser.connect_link(api.link("dr-okafor"))
    going = browser.settings("google")
    back = browser.get(google_consent(connect_sims, going.headers["location"], scopes=[APP_CREATED]))
    assert back.status_code == 303 and back.headers["location"] == "/connect/status"
    found = session_integration(api, "dr-okafor")
    assert found["status"] == "active" and found["account"] is None


def test_google_existing_calendar_is_picked_after_consent(connect_sims, api, browser):
    connect_sims.google.add_calendar(GOOGLE_USER, "work@group.calendar.google.com", summary="Work")
    browser.connect_link(api.link("dr-okafor"))
    going = browser.settings("google", target="existing")
    scopes = parse_qs(urlsplit(going.headers["location"]).query)["scope"][0].split()
    assert sorted(scopes) == ["email", "https://www.googleapis.com/auth/calendar.calendarlist.readonly",
                              "https://www.googleapis.com/auth/calendar.events", "openid"]
    back = browser.get(google_consent(connect_sims, going.headers["location"]))
    assert back.headers["location"] == "/connect/calendars"
    assert session_integration(api, "dr-okafor")["status"] == "paused"  # waits for the choice, writes nothing
    assert api.call("POST", f"/integrations/{session_integration(api, 'dr-okafor')['integration_id']}/resume",
                    {"backfill": True}).status_code == 409
    page = browser.get("/connect/calendars")
    assert "Work" in page.text and GOOGLE_USER in page.text
    chosen = browser.post("/connect/calendars", {"csrf": hidden(page.text, "csrf"),
                                                 "calendar": "work@group.calendar.google.com"})
    assert chosen.status_code == 303 and chosen.headers["location"] == "/connect/status"
    found = session_integration(api, "dr-okafor")
    assert found["status"] == "active"
    assert found["settings"]["calendar_id"] == "work@group.calendar.google.com"  # type: ignore[index]


def test_microsoft_connect_through_msal_with_form_post_then_the_first_event_arrives(connect_sims, api, browser):
    browser.connect_link(api.link("dr-lindqvist"))
    going = browser.settings("microsoft", reminder_minutes="10")
    authorize = {k: v[0] for k, v in parse_qs(urlsplit(going.headers["location"]).query).items()}
    assert authorize["response_mode"] == "form_post" and authorize["code_challenge_method"] == "S256"
    assert "https://graph.microsoft.com/Calendars.ReadWrite" in authorize["scope"].split()
    posted = microsoft_consent(connect_sims, going.headers["location"])
    relay = browser.post("/connect/oauth/microsoft/callback", posted)  # from Microsoft's site: no cookie needed
    assert relay.status_code == 200 and 'action="/connect/oauth/microsoft/finish"' in relay.text
    finished = browser.post("/connect/oauth/microsoft/finish", posted)
    assert finished.status_code == 303 and finished.headers["location"] == "/connect/status", finished.text
    found = session_integration(api, "dr-lindqvist")
    calendar_id = str(found["settings"]["calendar_id"])  # type: ignore[index]
    assert [c["name"] for c in connect_sims.microsoft.calendars(MS_USER) if c["id"] == calendar_id] == [
        "Clinic appointments"]
    stack = connect_sims.deployment.stack
    forget_calsync_state()  # a cold worker: it refreshes the token with the deployment's OAuth client
    deliver(stack, stack.resources, [appointment_entry(api.tenant_id, "dr-lindqvist")])
    (event,) = connect_sims.microsoft.events(MS_USER, calendar_id)
    assert event["isReminderOn"] is True and event["reminderMinutesBeforeStart"] == 10
    stored = integrations.get(str(found["integration_id"]))
    assert stored is not None and stored.status is IntegrationStatus.ACTIVE
    again = browser.post("/connect/oauth/microsoft/finish", posted)  # the state was taken: once only
    assert again.status_code == 400 and 'data-problem="state"' in again.text


def test_nothing_secret_is_kept_in_the_tables(connect_sims, api, browser):
    browser.connect_link(api.link("dr-okafor"))
    browser.get(google_consent(connect_sims, browser.settings("google").headers["location"]))
    tables = dump_tables()
    assert connect_sims.google.tokens_in(tables, live_only=False) == []
    assert "code_verifier" not in tables  # taken with the state


def test_reconnecting_an_integration_in_error_replays_its_parked_work(connect_sims, api, browser):
    from tests.support.connect import connect_google

    found = connect_google(connect_sims, api, "dr-okafor")
    stack = connect_sims.deployment.stack
    connect_sims.google.revoke(GOOGLE_USER)  # the clinician withdrew access at Google
    deliver(stack, stack.resources, [appointment_entry(api.tenant_id, "dr-okafor", "apt-parked")])
    broken = api.integration(found["integration_id"])
    assert (broken["status"], broken["status_reason"]) == ("error", "reauth_required")
    page = browser.get("/connect/status")
    assert page.status_code == 401  # this browser has no session yet
    browser.connect_link(api.link("dr-okafor", reconnect=found["integration_id"]))
    assert browser.get("/connect/choose").headers["location"] == "/connect/settings?provider=google"
    going = browser.settings("google")
    assert browser.get(google_consent(connect_sims, going.headers["location"])).status_code == 303
    healed = api.integration(found["integration_id"])
    assert healed["status"] == "active" and len(api.call(
        "GET", "/integrations?practitioner_id=dr-okafor").json()["integrations"]) == 1  # the same integration
    (event,) = connect_sims.google.events(found["settings"]["calendar_id"])  # the parked work, replayed
    assert event["summary"] == "[Main Street Family Practice] #A-77"


def test_a_deleted_calendar_shows_on_the_status_page(connect_sims, api, browser):
    browser.connect_link(api.link("dr-okafor"))
    browser.get(google_consent(connect_sims, browser.settings("google").headers["location"]))
    found = session_integration(api, "dr-okafor")
    connect_sims.google.remove_calendar(str(found["settings"]["calendar_id"]))  # type: ignore[index]
    stack = connect_sims.deployment.stack
    deliver(stack, stack.resources, [appointment_entry(api.tenant_id, "dr-okafor")])
    page = browser.get("/connect/status")
    assert 'data-status="error"' in page.text and "The calendar was deleted" in page.text


def test_two_way_asks_which_calendars_count_as_busy(connect_sims, api, browser):
    connect_sims.google.add_calendar(GOOGLE_USER, "family@group.calendar.google.com", summary="Family")
    browser.connect_link(api.link("dr-okafor"))
    going = browser.settings("google", direction="two_way")
    assert browser.get(google_consent(connect_sims, going.headers["location"])).headers["location"] == (
        "/connect/calendars")
    page = browser.get("/connect/calendars")
    assert 'name="calendar"' not in page.text and page.text.count('name="busy"') >= 2  # dedicated: no target
    done = browser.post("/connect/calendars", {"csrf": hidden(page.text, "csrf"),
                                               "busy": ["family@group.calendar.google.com", "not-mine"]})
    assert done.headers["location"] == "/connect/status"
    stored = integrations.get(str(session_integration(api, "dr-okafor")["integration_id"]))
    assert stored is not None and stored.direction.value == "two_way"
    assert stored.options["busy_calendars"] == '["family@group.calendar.google.com"]'  # only the clinician's own


def test_appointments_already_booked_are_in_the_calendar_when_the_status_page_shows(connect_sims, api, browser):
    stack = connect_sims.deployment.stack
    deliver(stack, stack.resources, [appointment_entry(api.tenant_id, "dr-okafor", f"apt-{n}") for n in range(3)])
    browser.connect_link(api.link("dr-okafor"))
    assert browser.get(google_consent(connect_sims, browser.settings("google").headers["location"])).status_code == 303
    found = session_integration(api, "dr-okafor")
    assert len(connect_sims.google.events(str(found["settings"]["calendar_id"]))) == 3  # type: ignore[index]
    assert found["status"] == "active"  # the first resync is complete already
