"""Fixtures for the simulators' own tests: a webhook receiver, an HTTPS Google simulator (the OAuth
client libraries insist on https token endpoints), and users connected through the simulators."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from devstack.sims.google import GoogleCalendarSimulator
from devstack.sims.microsoft import MicrosoftGraphSimulator
from devstack.sims.receiver import WebhookReceiver
from tests.support.simulators import CLIENT_ID, CLIENT_SECRET, GOOGLE_USER, MS_TENANT, MS_USER, trusting_client


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as server:
        yield server


@pytest.fixture(scope="session")
def _google_tls_server() -> Iterator[GoogleCalendarSimulator]:
    with GoogleCalendarSimulator(tls=True) as sim:
        yield sim


@pytest.fixture
def google_tls(_google_tls_server: GoogleCalendarSimulator) -> GoogleCalendarSimulator:
    _google_tls_server.reset()
    _google_tls_server.register_client(CLIENT_ID, CLIENT_SECRET)
    return _google_tls_server


@pytest.fixture
def google_server(_google_server: GoogleCalendarSimulator) -> GoogleCalendarSimulator:
    """The session's Google simulator as it is (tests that reset it themselves, once per example)."""
    return _google_server


@pytest.fixture
def microsoft_server(_microsoft_server: MicrosoftGraphSimulator) -> MicrosoftGraphSimulator:
    """The session's Graph simulator as it is (tests that reset it themselves, once per example)."""
    return _microsoft_server


@pytest.fixture
def google(google_sim: GoogleCalendarSimulator, receiver: WebhookReceiver) -> GoogleCalendarSimulator:
    """The Google simulator with one connected user whose notifications may go to the plain-http receiver."""
    google_sim.add_user(GOOGLE_USER)
    google_sim.channels.allow_http_loopback = True
    return google_sim


@pytest.fixture
def gapi(google: GoogleCalendarSimulator) -> Iterator[httpx.Client]:
    """An httpx client on the Google Calendar API with a full-calendar access token."""
    token = bearer(google, google.connect(GOOGLE_USER, CLIENT_ID, ("https://www.googleapis.com/auth/calendar",)))
    with httpx.Client(base_url=google.api_base, headers={"Authorization": f"Bearer {token}"}, timeout=10) as client:
        yield client


@pytest.fixture
def graph(microsoft_sim: MicrosoftGraphSimulator) -> MicrosoftGraphSimulator:
    microsoft_sim.add_user(MS_USER, MS_TENANT)
    microsoft_sim.subscriptions.allow_http_loopback = True
    return microsoft_sim


@pytest.fixture
def mapi(graph: MicrosoftGraphSimulator) -> Iterator[httpx.Client]:
    """An httpx client on Graph with a delegated Calendars.ReadWrite token."""
    token = bearer(graph, graph.connect(MS_USER, CLIENT_ID, MS_TENANT))
    with trusting_client(graph) as client:
        client.base_url = httpx.URL(graph.api_base + "/")
        client.headers["Authorization"] = f"Bearer {token}"
        yield client


def bearer(sim: GoogleCalendarSimulator | MicrosoftGraphSimulator, refresh_token: str) -> str:
    """An access token for the consent behind ``refresh_token``, straight from the simulator's book."""
    grant = sim.tokens.redeem(refresh_token, CLIENT_ID)
    assert grant is not None
    return sim.tokens.issue(grant)[0]
