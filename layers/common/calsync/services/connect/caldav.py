"""Connecting iCloud or another CalDAV server: the server (iCloud's is a deployment setting), a username
and an app-specific password.

Nothing is stored until the server has proved it works: discovery (``providers.caldav_discovery``), the
dedicated calendar found or made (or the list to pick from), then a test event written and deleted in
the calendar calsync will write to. The server address is a person's input, so it goes through
``http.guarded`` (public addresses only; loopback too in local development, where Radicale stands in
for iCloud) and must be https outside local development; redirects and discovered addresses stay on the
server's own site, so the password never goes elsewhere.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

from calsync.core.errors import CalSyncError
from calsync.core.settings import LOOPBACK_HOSTS, get_settings
from calsync.domain import connect as rules
from calsync.domain.connect import CalendarTarget, Choices
from calsync.domain.event import CalendarEvent, EventKey
from calsync.domain.model import Integration, Provider
from calsync.http.guarded import guarded_client
from calsync.providers import caldav_discovery as discovery
from calsync.providers.caldav import CalDavProvider
from calsync.services.connect import setup
from calsync.store import connect as store

ICLOUD = "icloud"


class ServerAddressError(CalSyncError):
    """The server address is not one calsync will send a password to (``reason`` says why)."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"caldav server refused: {reason}")
        self.reason = reason


@dataclass(frozen=True)
class CalDavLogin:
    server: str  # "icloud", or the server's URL
    username: str
    password: str


def server_url(server: str) -> str:
    """The URL to discover from: iCloud's from the deployment settings, any other as typed, if https (or
    plain http on loopback in local development) and without credentials, query or fragment."""
    settings = get_settings()
    if server.strip().lower() == ICLOUD:
        return settings.icloud_caldav_url
    url = server.strip()
    if "://" not in url:
        url = "https://" + url
    parts = urlsplit(url)
    if parts.username or parts.password or parts.query or parts.fragment or not parts.hostname:
        raise ServerAddressError("malformed_address")
    local = settings.local_development and parts.hostname in LOOPBACK_HOSTS
    if parts.scheme != "https" and not (parts.scheme == "http" and local):
        raise ServerAddressError("https_required")
    return url


def _client(login: CalDavLogin) -> httpx.Client:
    settings = get_settings()
    return guarded_client(settings.provider_timeout_seconds, allow_loopback=settings.local_development,
                          auth=httpx.BasicAuth(login.username, login.password))


def probe(client: httpx.Client, calendar_url: str, now: dt.datetime) -> None:
    """Writes a test event into the calendar and deletes it again: the password may write, the calendar
    takes events. Raises the provider's error otherwise."""
    stand_in = Integration(integration_id="connect-probe", tenant_id="probe", practitioner_id="probe",
                           provider=Provider.CALDAV, calendar_id=calendar_url)
    key = EventKey("connect-probe", "probe", rules.new_secret())
    start = now.replace(microsecond=0) + dt.timedelta(days=1)
    event = CalendarEvent(summary="calsync connection test", description="Deleted right away.", location=None,
                          start=start, end=start + dt.timedelta(minutes=15), timezone="UTC", all_day=False)
    provider = CalDavProvider(stand_in, client=client)
    written = provider.upsert(key, event, None)
    provider.delete(key, written)


def connect(session: store.Session, choices: Choices, login: CalDavLogin,
            now: dt.datetime | None = None) -> tuple[Integration, list[discovery.DiscoveredCalendar]]:
    """Discovers, tests and connects; returns the integration and, when the clinician picks the calendar,
    the calendars to pick from."""
    now = now or dt.datetime.now(dt.UTC)
    url = server_url(login.server)
    with _client(login) as client:
        home = discovery.calendar_home(client, discovery.principal_url(client, url))
        found = discovery.list_calendars(client, home)
        calendar_url = ""
        options: dict[str, str] = {}
        if choices.direction.pushes and choices.target is CalendarTarget.DEDICATED:
            calendar_url = next((c.url for c in found if c.display_name == rules.DEDICATED_CALENDAR), "") or (
                discovery.make_calendar(client, home, rules.DEDICATED_CALENDAR))
            options[setup.DEDICATED_OPTION] = "true"
            probe(client, calendar_url, now)
        elif found and choices.direction.pushes:  # the password may write; the chosen calendar is tested later
            probe(client, found[0].url, now)
    secret = {"username": login.username, "password": login.password}
    existing = setup.reconnect_target(session)
    if existing is not None and existing.provider is Provider.CALDAV:
        return setup.reconnect(session, existing, secret), []
    integration = setup.create(session, choices, secret, calendar_id=calendar_url or (found[0].url if found else url),
                               options=options, awaiting_calendar=choices.needs_calendar_choice,
                               account=login.username if "@" in login.username else None)
    return integration, (found if choices.needs_calendar_choice else [])


def probe_chosen(integration: Integration, calendar_url: str, now: dt.datetime | None = None) -> None:
    """Tests the calendar the clinician picked before anything is written to it."""
    from calsync.services.writers import caldav_credentials

    username, password = caldav_credentials(integration)
    if not discovery.same_site(integration.calendar_id, calendar_url):
        raise ServerAddressError("calendar_on_other_site")
    with _client(CalDavLogin(calendar_url, username, password)) as client:
        probe(client, calendar_url, now or dt.datetime.now(dt.UTC))


def calendars_of(integration: Integration) -> list[discovery.DiscoveredCalendar]:
    """The clinician's calendars on the server, with the stored password (the pick-a-calendar step)."""
    from calsync.services.writers import caldav_credentials

    username, password = caldav_credentials(integration)
    login = CalDavLogin(integration.calendar_id, username, password)
    with _client(login) as client:
        home = discovery.calendar_home(client, discovery.principal_url(client, _server_of(integration)))
        return discovery.list_calendars(client, home)


def _server_of(integration: Integration) -> str:
    parts = urlsplit(integration.calendar_id)
    return f"{parts.scheme}://{parts.netloc}/"
