"""Connects sample clinicians to the Google and Microsoft simulators, the way the connect page will:
the clinician consents (the simulator hands out a refresh token), the token goes into Secrets Manager,
and the integration points calsync at the simulator through its options.

Used by the end-to-end tests and ``make demo``; the Microsoft simulator needs ``SSL_CERT_FILE`` set to
its CA bundle before calsync makes its HTTP clients (see ``devstack.sims.microsoft``).
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from calsync.domain.model import Integration, IntegrationStatus, PrivacySettings, Provider
from calsync.store import integrations
from devstack.sims.google import GoogleCalendarSimulator
from devstack.sims.microsoft import MicrosoftGraphSimulator
from devstack.stack import LocalStack

CLIENT_ID = "calsync-local-client"
CLIENT_SECRET = "calsync-local-client-secret"  # the simulators' throw-away OAuth client


@dataclass(frozen=True)
class ShownEvent:
    """An event as the clinician's calendar shows it."""

    summary: str
    start: dt.datetime
    end: dt.datetime | dt.date
    all_day: bool
    raw: dict[str, Any]

    @property
    def attendees(self) -> int:
        return len(self.raw.get("attendees") or [])

    @property
    def location(self) -> str | None:
        value = self.raw.get("location")
        text = value.get("displayName") if isinstance(value, dict) else value
        return str(text) if text else None

    def local_times(self, zone: ZoneInfo) -> tuple[str, str]:
        if self.all_day:
            return self.start.date().isoformat(), str(self.end)
        assert isinstance(self.end, dt.datetime)
        return self.start.astimezone(zone).strftime("%H:%M"), self.end.astimezone(zone).strftime("%H:%M")


@dataclass(frozen=True)
class OAuthClinician:
    integration: Integration
    user: str
    sim: GoogleCalendarSimulator | MicrosoftGraphSimulator

    @property
    def provider(self) -> str:
        return self.integration.provider.value

    def calendar(self) -> list[ShownEvent]:
        if isinstance(self.sim, GoogleCalendarSimulator):
            return [_google_event(e) for e in self.sim.events(self.user)]
        return [_graph_event(e) for e in self.sim.events(self.user, self.integration.calendar_id)]

    def api_calls(self) -> int:
        return len(self.sim.api_requests())

    @property
    def label(self) -> str:
        """Where the calendar lives, for the demo's headings."""
        return f"{self.sim.api_base} ({self.user})"


@contextmanager
def simulators() -> Iterator[tuple[GoogleCalendarSimulator, MicrosoftGraphSimulator]]:
    """Both simulators on loopback, with calsync pointed at them (:func:`simulator_env`) and
    ``SSL_CERT_FILE`` naming the Microsoft one's CA (set before calsync creates its HTTP clients)."""
    with GoogleCalendarSimulator() as google, MicrosoftGraphSimulator() as graph:
        assert graph.ca_bundle is not None
        os.environ.update(simulator_env(google, graph))
        from calsync.core.settings import get_settings

        get_settings.cache_clear()
        yield google, graph


def simulator_env(google: GoogleCalendarSimulator, graph: MicrosoftGraphSimulator) -> dict[str, str]:
    """The settings that point calsync at the simulators. Provider endpoints are deployment settings,
    never integration data, and only local development lets them name a loopback address."""
    assert graph.ca_bundle is not None
    return {"CALSYNC_LOCAL_DEVELOPMENT": "true", "SSL_CERT_FILE": str(graph.ca_bundle),
            "CALSYNC_GOOGLE_API_BASE": google.api_base, "CALSYNC_GOOGLE_TOKEN_URI": google.token_uri,
            "CALSYNC_GOOGLE_AUTHORIZE_URI": google.authorize_uri, "CALSYNC_GOOGLE_REVOKE_URI": google.revoke_uri,
            "CALSYNC_GRAPH_API_BASE": graph.api_base, "CALSYNC_MICROSOFT_LOGIN_BASE": graph.login_base,
            # oauthlib (under google-auth-oauthlib) refuses plain-http token endpoints unless told; the Google
            # simulator is plain http on loopback. Only the local stack ever sets this.
            "OAUTHLIB_INSECURE_TRANSPORT": "1"}


def register_connect_clients(stack: LocalStack, public_base: str, google: GoogleCalendarSimulator | None,
                             graph: MicrosoftGraphSimulator | None) -> None:
    """The connect page's OAuth clients: registered with each simulator for the exact redirect URIs the
    page sends, and kept in the deployment's app secrets (``calsync/_deployment/oauth/<provider>``)."""
    for provider, sim in (("google", google), ("microsoft", graph)):
        if sim is None:
            continue
        sim.register_client(CLIENT_ID, CLIENT_SECRET, (f"{public_base}/connect/oauth/{provider}/callback",))
        stack.put_deployment_secret(f"calsync/_deployment/oauth/{provider}", {"client_id": CLIENT_ID,
                                                                               "client_secret": CLIENT_SECRET})


def connect_google(stack: LocalStack, sim: GoogleCalendarSimulator, *, tenant_id: str, practitioner_id: str,
                   privacy: PrivacySettings, user: str | None = None) -> OAuthClinician:
    user = user or f"{practitioner_id}@{tenant_id}.gmail.example"
    sim.register_client(CLIENT_ID, CLIENT_SECRET)
    integration_id = f"int-{tenant_id}-{practitioner_id}-google"
    secret_arn = stack.put_secret(tenant_id, f"integrations/{integration_id}", {
        "refresh_token": sim.connect(user, CLIENT_ID), "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET})
    integration = Integration(
        integration_id=integration_id, tenant_id=tenant_id, practitioner_id=practitioner_id, provider=Provider.GOOGLE,
        calendar_id="primary", privacy=privacy, secret_ref=secret_arn, status=IntegrationStatus.PENDING,
    )
    integrations.put(integration)
    stack.allow_ehr(tenant_id)
    return OAuthClinician(integration, user, sim)


def connect_microsoft(stack: LocalStack, sim: MicrosoftGraphSimulator, *, tenant_id: str, practitioner_id: str,
                      privacy: PrivacySettings, user: str | None = None,
                      directory_tenant: str = "northside-directory") -> OAuthClinician:
    user = user or f"{practitioner_id}@{tenant_id}.onmicrosoft.example"
    sim.register_client(CLIENT_ID, CLIENT_SECRET)
    calendar_id = sim.add_user(user, directory_tenant)
    integration_id = f"int-{tenant_id}-{practitioner_id}-microsoft"
    secret_arn = stack.put_secret(tenant_id, f"integrations/{integration_id}", {
        "refresh_token": sim.connect(user, CLIENT_ID, directory_tenant), "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET})
    integration = Integration(
        integration_id=integration_id, tenant_id=tenant_id, practitioner_id=practitioner_id,
        provider=Provider.MICROSOFT, calendar_id=calendar_id, privacy=privacy, secret_ref=secret_arn,
        status=IntegrationStatus.PENDING,
    )
    integrations.put(integration)
    stack.allow_ehr(tenant_id)
    return OAuthClinician(integration, user, sim)


def _google_event(event: dict[str, Any]) -> ShownEvent:
    start, end = event["start"], event["end"]
    if "date" in start:
        day = dt.date.fromisoformat(start["date"])
        return ShownEvent(event.get("summary", ""), dt.datetime.combine(day, dt.time(0)),
                          dt.date.fromisoformat(end["date"]), True, event)
    return ShownEvent(event.get("summary", ""), dt.datetime.fromisoformat(start["dateTime"]),
                      dt.datetime.fromisoformat(end["dateTime"]), False, event)


def _graph_event(event: dict[str, Any]) -> ShownEvent:
    def instant(value: dict[str, str]) -> dt.datetime:
        return dt.datetime.fromisoformat(value["dateTime"]).replace(tzinfo=ZoneInfo(value["timeZone"]))

    start, end = instant(event["start"]), instant(event["end"])
    if event.get("isAllDay"):
        return ShownEvent(event.get("subject", ""), start, end.date(), True, event)
    return ShownEvent(event.get("subject", ""), start, end, False, event)
