"""The connect page in a real browser: headless Chromium (Debian's, driven by Playwright) against the local
deployment, through Google, Microsoft, iCloud (Radicale) and the feed; the live preview following the
choices; axe-core (from its npm package, injected into each page) finding no serious or critical
violation; the Google flow done with the keyboard alone; every step on a phone-sized screen without
sideways scrolling; and the failure pages. With ``CALSYNC_SCREENSHOTS`` set to a folder, each step is
saved there (``make screenshots`` refreshes ``docs/screenshots``)."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright import sync_api as playwright

from devstack.calendar_reader import read_calendar
from tests.support.connect import MS_USER, Api, Sims, appointment_entry
from tests.support.pipeline import deliver

ROOT = Path(__file__).resolve().parents[2]
AXE = ROOT / "devstack" / "node" / "node_modules" / "axe-core" / "axe.min.js"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SHOTS = os.environ.get("CALSYNC_SCREENSHOTS")
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    with playwright.sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        yield browser
        browser.close()


def new_page(chromium: Any, phone: bool = False) -> Any:
    # bypass_csp: only so that the test can inject axe-core; the page's own policy is tested elsewhere.
    # ignore_https_errors: the Microsoft simulator's certificate comes from a throw-away CA.
    context = chromium.new_context(bypass_csp=True, ignore_https_errors=True, **(PHONE if phone else {}))
    page = context.new_page()
    page.set_default_timeout(15000)
    return page


def check(page: Any, name: str) -> None:
    """axe-core on the page (no serious or critical violation), no sideways scrolling, and a screenshot."""
    page.wait_for_load_state("networkidle")
    page.add_script_tag(path=str(AXE))
    found = page.evaluate("async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
                          ".map(v => ({id: v.id, impact: v.impact, nodes: v.nodes.length}))")
    serious = [v for v in found if v["impact"] in ("serious", "critical")]
    assert not serious, f"{name}: {serious}"
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"), f"{name} scrolls sideways"
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / f"{name}.png"), full_page=True)


def calendar_pages(page: Any, api: Api, practitioner: str, kind_label: str, shots: str) -> None:
    page.goto(api.link(practitioner))
    check(page, f"{shots}-1-open")
    page.get_by_role("button", name="Start").click()
    page.wait_for_url("**/connect/choose")
    check(page, f"{shots}-2-choose")
    page.get_by_role("link", name=kind_label).click()
    page.wait_for_url("**/connect/settings**")


def deliver_one(sims: Sims, api: Api, practitioner: str) -> None:
    stack = sims.deployment.stack
    deliver(stack, stack.resources, [appointment_entry(api.tenant_id, practitioner)])


def wait_active(page: Any) -> None:
    """The status page refreshes itself until the event delivered meanwhile shows."""
    page.wait_for_selector('#status[data-status="active"]', timeout=20000)
    page.wait_for_function("document.querySelector('[data-events]').textContent.trim() === '1'", timeout=20000)


def test_google_with_the_live_preview(chromium, connect_sims, api):
    page = new_page(chromium)
    calendar_pages(page, api, "dr-okafor", "Google Calendar", "google")
    title = page.locator("[data-preview] .event-title")
    assert "#A-1234" in title.inner_text()
    page.get_by_label("The client").select_option("initials")
    page.get_by_label("Visit type").check()
    page.get_by_label("Reminder").select_option("15")
    page.wait_for_function("document.querySelector('[data-preview] .event-title').textContent.includes('J.R.')")
    assert "Follow-up" in title.inner_text() and "15 min before" in page.locator("[data-preview]").inner_text()
    check(page, "google-3-settings")
    page.get_by_role("button", name="Continue to Google Calendar").click()
    page.wait_for_url(re.compile(r".*/o/oauth2/v2/auth.*"))
    check(page, "google-4-consent")
    page.get_by_role("button", name="Allow").click()
    page.wait_for_url("**/connect/status")
    check(page, "google-5-status-connected")
    deliver_one(connect_sims, api, "dr-okafor")
    wait_active(page)  # the page refreshes itself
    check(page, "google-6-status-active")
    (found,) = api.call("GET", "/integrations?practitioner_id=dr-okafor").json()["integrations"]
    (event,) = connect_sims.google.events(found["settings"]["calendar_id"])
    assert event["summary"] == "[Main Street Family Practice] J.R."  # (the change has no visit type)
    assert event["reminders"]["overrides"] == [{"method": "popup", "minutes": 15}]


def test_google_with_the_keyboard_alone(chromium, connect_sims, api):
    page = new_page(chromium)
    page.goto(api.link("dr-okafor"))

    def tab_to(selector: str, limit: int = 60) -> None:
        for _press in range(limit):
            page.keyboard.press("Tab")
            if page.evaluate("s => document.activeElement && document.activeElement.matches(s)", selector):
                return
        raise AssertionError(f"{selector} cannot be reached with Tab")

    tab_to("button[type=submit]")
    page.keyboard.press("Enter")
    page.wait_for_url("**/connect/choose")
    tab_to('a[href$="provider=google"]')
    page.keyboard.press("Enter")
    page.wait_for_url("**/connect/settings**")
    tab_to("#client_display")
    page.keyboard.press("ArrowDown")  # internal id → initials
    tab_to("#show_notes")
    page.keyboard.press("Space")
    assert page.is_checked("#show_notes")
    focused = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert focused != "none"  # the focus ring is visible
    tab_to("button.primary")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r".*/o/oauth2/v2/auth.*"))
    tab_to('button[value="allow"]')
    page.keyboard.press("Enter")
    page.wait_for_url("**/connect/status")
    (found,) = api.call("GET", "/integrations?practitioner_id=dr-okafor").json()["integrations"]
    assert found["settings"]["privacy"]["show_notes"] is True
    assert found["settings"]["privacy"]["client_display"] == "initials"


def test_microsoft_on_a_phone(chromium, connect_sims, api):
    page = new_page(chromium, phone=True)
    calendar_pages(page, api, "dr-lindqvist", "Microsoft 365 or Outlook.com", "microsoft")
    check(page, "microsoft-3-settings")
    page.get_by_role("button", name=re.compile("Continue to Microsoft")).click()
    page.wait_for_url(re.compile(r".*/oauth2/v2\.0/authorize.*"))
    check(page, "microsoft-4-consent")
    page.get_by_role("button", name="Allow").click()  # Microsoft posts back; the page hands it on by itself
    page.wait_for_url("**/connect/status")
    check(page, "microsoft-5-status-connected")
    deliver_one(connect_sims, api, "dr-lindqvist")
    wait_active(page)
    check(page, "microsoft-6-status-active")
    (found,) = api.call("GET", "/integrations?practitioner_id=dr-lindqvist").json()["integrations"]
    assert len(connect_sims.microsoft.events(MS_USER, found["settings"]["calendar_id"])) == 1


def test_icloud_on_radicale_including_a_wrong_password(chromium, connect_sims, api):
    connect_sims.deployment.stack.radicale.add_user("dr-icloud", "abcd-efgh-ijkl-mnop")
    page = new_page(chromium, phone=True)
    calendar_pages(page, api, "dr-icloud", "iCloud", "icloud")
    page.get_by_label("Apple ID").fill("dr-icloud")
    page.get_by_label("App-specific password").fill("wrong-password")
    check(page, "icloud-3-settings")
    page.get_by_role("button", name="Test and connect").click()
    page.wait_for_selector("#form-errors")
    assert "did not accept" in page.locator("#form-errors").inner_text()
    check(page, "icloud-4-wrong-password")
    page.get_by_label("App-specific password").fill("abcd-efgh-ijkl-mnop")
    page.get_by_role("button", name="Test and connect").click()
    page.wait_for_url("**/connect/status")
    deliver_one(connect_sims, api, "dr-icloud")
    wait_active(page)
    check(page, "icloud-5-status-active")
    (found,) = api.call("GET", "/integrations?practitioner_id=dr-icloud").json()["integrations"]
    assert len(read_calendar(found["settings"]["calendar_id"], "dr-icloud", "abcd-efgh-ijkl-mnop")) == 1


def test_the_feed(chromium, connect_sims, api):
    page = new_page(chromium, phone=True)
    calendar_pages(page, api, "dr-feed", "A private calendar feed (ICS)", "feed")
    page.get_by_role("button", name="Create my feed").click()
    url = page.get_by_label("Feed address").input_value()
    assert url.startswith(connect_sims.deployment.api.base_url + "/feeds/")
    check(page, "feed-3-url")


def test_failure_pages(chromium, connect_sims, api):
    page = new_page(chromium)
    link = api.link("dr-okafor")
    page.goto(link)
    page.get_by_role("button", name="Start").click()
    page.wait_for_url("**/connect/choose")
    page.goto(link)
    assert page.locator('[data-problem="link_used"]').is_visible()
    check(page, "error-link-used")
    page.goto(link[:-3] + "AAA")
    check(page, "error-link-invalid")
    page.goto(connect_sims.deployment.api.base_url + "/connect/settings?provider=google")
    page.get_by_role("button", name="Continue to Google Calendar").click()
    page.get_by_role("button", name="Deny").click()
    assert page.locator('[data-problem="denied"]').is_visible()
    check(page, "error-consent-denied")
