"""Connect links (signed, single use, short-lived: an expired, replayed or tampered link shows a clear page
and changes nothing), the session they open, the iCloud/CalDAV form against Radicale (discovery, a test
write and delete, a wrong app password, addresses calsync will not send a password to), and the feed."""

from __future__ import annotations

import datetime as dt

import httpx
import pytest

from calsync.domain import connect as rules
from calsync.services.connect import links
from calsync.store import connect as store
from devstack.calendar_reader import read_calendar
from tests.support.connect import Api, Browser, Sims, appointment_entry, hidden
from tests.support.pipeline import deliver

RADICALE_USER, RADICALE_PASSWORD = "dr-caldav", "app-specific-pw"


@pytest.fixture
def browser(connect_sims: Sims) -> Browser:
    return Browser(connect_sims.deployment.api.base_url)


def claimed(link_url: str) -> bool:
    token = httpx.URL(link_url).params["link"]
    claims, _payload, _mac = rules.decode_link(token)
    record = store.get_link(rules.digest(claims.link_id))
    assert record is not None
    return record.claimed


def test_opening_a_link_changes_nothing_and_starting_claims_it_once(api, browser):
    link = api.link("dr-okafor")
    for _look in range(2):  # a mail scanner fetching the link does not use it up
        page = browser.get(link)
        assert page.status_code == 200 and ">Start</button>" in page.text
    assert not claimed(link)
    assert browser.start(link).status_code == 303 and claimed(link)
    again = Browser(browser.base).get(link)  # replayed or forwarded
    assert again.status_code == 410 and 'data-problem="link_used"' in again.text
    refused = Browser(browser.base).post("/connect/start", {"link": httpx.URL(link).params["link"]})
    assert refused.status_code == 410 and "set-cookie" not in refused.headers


@pytest.mark.parametrize("where", ["payload", "mac"])
def test_a_tampered_link_is_refused_before_anything_is_looked_up(api, browser, where):
    token = httpx.URL(api.link("dr-okafor")).params["link"]
    payload, mac = token.split(".")
    claims, _raw, _mac = rules.decode_link(token)
    if where == "payload":  # another practitioner, same signature
        forged = rules.LinkClaims(claims.link_id, claims.tenant_id, "dr-someone-else", claims.expires_at)
        token = rules.encode_link(forged, rules._unb64(mac))
    else:
        token = payload + "." + ("A" if mac[0] != "A" else "B") + mac[1:]
    page = browser.get(f"/connect/open?link={token}")
    assert page.status_code == 400 and 'data-problem="link_invalid"' in page.text
    started = browser.post("/connect/start", {"link": token})
    assert started.status_code == 400 and "set-cookie" not in started.headers
    assert store.get_link(rules.digest(claims.link_id)).claimed is False  # type: ignore[union-attr]


def test_an_expired_link_shows_a_clear_page(api, browser, tenant_id):
    issued = links.create(tenant_id, "dr-okafor", now=dt.datetime.now(dt.UTC) - rules.LINK_LIFETIME * 2)
    page = browser.get(issued.url.removeprefix(browser.base))
    assert page.status_code == 410 and 'data-problem="link_expired"' in page.text
    assert browser.post("/connect/start", {"link": httpx.URL(issued.url).params["link"]}).status_code == 410


def test_every_step_needs_the_session_of_the_link(browser):
    for path in ("/connect/choose", "/connect/settings?provider=google", "/connect/calendars", "/connect/status"):
        page = browser.get(path)
        assert page.status_code == 401 and 'data-problem="session"' in page.text
    browser.http.cookies.set("calsync-connect", "0" * 64 + ".forged")
    assert browser.get("/connect/choose").status_code == 401


def test_a_form_without_its_csrf_token_is_refused(api, browser):
    browser.connect_link(api.link("dr-okafor"))
    refused = browser.post("/connect/settings", {"kind": "google", "csrf": "wrong"})
    assert refused.status_code == 403 and 'data-problem="csrf"' in refused.text


def test_pages_carry_a_strict_content_security_policy(api, browser):
    page = browser.get(api.link("dr-okafor"))
    policy = page.headers["content-security-policy"]
    assert "default-src 'none'" in policy and "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert page.headers["referrer-policy"] == "no-referrer" and page.headers["cache-control"] == "no-store"


# -- iCloud and other CalDAV servers (Radicale stands in for iCloud locally) ---------------------------------


def icloud(browser: Browser, api: Api, password: str = RADICALE_PASSWORD, **choices: str) -> httpx.Response:
    browser.connect_link(api.link("dr-caldav"))
    return browser.settings("icloud", username=RADICALE_USER, password=password, **choices)


def test_icloud_connects_after_a_test_write_and_delete(connect_sims, api, browser):
    radicale = connect_sims.deployment.stack.radicale
    radicale.add_user(RADICALE_USER, RADICALE_PASSWORD)
    done = icloud(browser, api, reminder_minutes="30")
    assert done.status_code == 303 and done.headers["location"] == "/connect/status", done.text
    (found,) = api.call("GET", "/integrations?practitioner_id=dr-caldav").json()["integrations"]
    url = found["settings"]["calendar_id"]
    assert url.endswith("/clinic-appointments/") and found["status"] == "active"
    assert read_calendar(url, RADICALE_USER, RADICALE_PASSWORD) == []  # the test event is gone again
    stack = connect_sims.deployment.stack
    deliver(stack, stack.resources, [appointment_entry(api.tenant_id, "dr-caldav")])
    (event,) = read_calendar(url, RADICALE_USER, RADICALE_PASSWORD)
    assert event.summary == "[Main Street Family Practice] #A-77"
    body = httpx.get(str(httpx.URL(url).join(event.href)), auth=(RADICALE_USER, RADICALE_PASSWORD)).text
    assert "BEGIN:VALARM" in body and "TRIGGER:-PT30M" in body


def test_a_wrong_app_password_says_so_and_stores_nothing(connect_sims, api, browser):
    connect_sims.deployment.stack.radicale.add_user(RADICALE_USER, RADICALE_PASSWORD)
    refused = icloud(browser, api, password="not-the-password")
    assert refused.status_code == 400 and "did not accept that username and app-specific password" in refused.text
    assert api.call("GET", "/integrations?practitioner_id=dr-caldav").json()["integrations"] == []


@pytest.mark.parametrize(("server", "message"), [
    ("http://169.254.169.254/latest/meta-data", "must start with https://"),
    ("https://169.254.169.254/", "not a public server"),
    ("https://10.1.2.3/", "not a public server"),
    ("https://[fd00:ec2::254]/", "not a public server"),
    ("https://user:pw@caldav.example.com/", "not a server address"),
])
def test_caldav_servers_calsync_will_not_send_a_password_to(connect_sims, api, browser, server, message):
    browser.connect_link(api.link("dr-caldav"))
    refused = browser.settings("caldav", server=server, username="u", password="p")
    assert refused.status_code == 400 and message in refused.text, refused.text
    assert api.call("GET", "/integrations?practitioner_id=dr-caldav").json()["integrations"] == []


def test_a_private_feed_is_created_and_its_url_shown_once(connect_sims, api, browser):
    """The feed starts with the clinician's appointments already in its window."""
    stack = connect_sims.deployment.stack
    deliver(stack, stack.resources, [appointment_entry(api.tenant_id, "dr-feed", f"apt-{n}") for n in range(2)])
    browser.connect_link(api.link("dr-feed"))
    page = browser.settings("ics", client_display="none")
    assert page.status_code == 200
    url = hidden(page.text.replace('readonly value=', 'name="feed" value='), "feed")
    assert url.startswith(connect_sims.deployment.api.base_url + "/feeds/") and url.endswith(".ics")
    feed = httpx.get(url)
    assert feed.status_code == 200 and feed.text.count("BEGIN:VEVENT") == 2
    status = browser.get("/connect/status").text
    assert 'data-status="active"' in status and url not in status  # its first events are in; the URL shown once
