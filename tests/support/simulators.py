"""The Google and Microsoft simulators as pytest fixtures, and helpers to connect integrations to them.

Each simulator starts once per session on its own loopback port; every test gets it reset (no
events, tokens or faults), with calsync's token memory, warm providers and secret cache forgotten.
Loaded as a plugin from ``tests/conftest.py``.
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from calsync.core.settings import get_settings
from calsync.domain.model import Integration, PrivacySettings, Provider
from devstack.sims.google import GoogleCalendarSimulator
from devstack.sims.microsoft import MicrosoftGraphSimulator
from devstack.sims.oauth import Grant, TokenBook
from tests.support import aws_calls

CLIENT_ID, CLIENT_SECRET = "calsync-test-client", "calsync-test-client-secret"
TENANT = "tenant-1"  # the tenant of google_integration and microsoft_integration unless a test names another
GOOGLE_USER = "dr.okafor@gmail.example"
MS_USER, MS_TENANT = "dr.lindqvist@northside.example", "9f1c2d3e-tenant-northside"


def forget_calsync_state() -> None:
    """Drops every process-wide cache a warm Lambda would keep (tokens, providers, secrets, clients)."""
    from calsync.aws import secret_store as secrets
    from calsync.aws import tenant_session
    from calsync.http import bearer
    from calsync.oauth import memory
    from calsync.services import writers

    memory.drop()
    writers.forget()
    secrets.forget()
    tenant_session.forget()
    bearer.reset_clients()


def point_calsync_at(**endpoints: str) -> None:
    """Provider endpoints are deployment settings: local development lets them name a simulator."""
    os.environ.update({"CALSYNC_LOCAL_DEVELOPMENT": "true", **endpoints})
    get_settings.cache_clear()


@pytest.fixture(scope="session")
def _google_server() -> Iterator[GoogleCalendarSimulator]:
    with GoogleCalendarSimulator() as sim:
        point_calsync_at(CALSYNC_GOOGLE_API_BASE=sim.api_base, CALSYNC_GOOGLE_TOKEN_URI=sim.token_uri)
        yield sim


@pytest.fixture(scope="session")
def _microsoft_server() -> Iterator[MicrosoftGraphSimulator]:
    with MicrosoftGraphSimulator() as sim:
        assert sim.ca_bundle is not None
        os.environ["SSL_CERT_FILE"] = str(sim.ca_bundle)  # httpx clients made from now on trust it
        point_calsync_at(CALSYNC_GRAPH_API_BASE=sim.api_base, CALSYNC_MICROSOFT_LOGIN_BASE=sim.login_base)
        yield sim


@pytest.fixture
def google_sim(_google_server: GoogleCalendarSimulator) -> Iterator[GoogleCalendarSimulator]:
    _google_server.reset()
    _google_server.rotate_refresh_tokens = False
    _google_server.register_client(CLIENT_ID, CLIENT_SECRET)
    forget_calsync_state()
    yield _google_server
    forget_calsync_state()


@pytest.fixture
def microsoft_sim(_microsoft_server: MicrosoftGraphSimulator) -> Iterator[MicrosoftGraphSimulator]:
    _microsoft_server.reset()
    _microsoft_server.register_client(CLIENT_ID, CLIENT_SECRET)
    forget_calsync_state()
    yield _microsoft_server
    forget_calsync_state()


def trusting_client(sim: MicrosoftGraphSimulator) -> httpx.Client:
    """An httpx client that trusts the simulator's throw-away CA (without touching the environment)."""
    assert sim.ca_bundle is not None
    return httpx.Client(verify=ssl.create_default_context(cafile=str(sim.ca_bundle)), timeout=10)


class SimTokens:
    """A token source that takes access tokens straight from a simulator's token book: for tests of
    the providers' request logic, apart from the OAuth token lifecycle (tested on its own)."""

    def __init__(self, book: TokenBook, grant: Grant) -> None:
        self._book, self._grant = book, grant
        self._token = book.issue(grant)[0]
        self.renewals = 0

    def access_token(self) -> str:
        return self._token

    def renew(self, rejected: str) -> str:
        self.renewals += 1
        self._token = self._book.issue(self._grant)[0]
        return self._token


def google_integration(sim: GoogleCalendarSimulator, *, secret_ref: str | None = None, calendar_id: str = "primary",
                       integration_id: str = "int-google-1", **fields: Any) -> Integration:
    return Integration(integration_id=integration_id, tenant_id=fields.pop("tenant_id", TENANT),
                       practitioner_id=fields.pop("practitioner_id", "dr-okafor"), provider=Provider.GOOGLE,
                       calendar_id=calendar_id, secret_ref=secret_ref or "unused",
                       privacy=fields.pop("privacy", PrivacySettings()),
                       options=fields.pop("options", {}),
                       **fields)


def microsoft_integration(sim: MicrosoftGraphSimulator, calendar_id: str, *, secret_ref: str | None = None,
                          integration_id: str = "int-ms-1", **fields: Any) -> Integration:
    return Integration(integration_id=integration_id, tenant_id=fields.pop("tenant_id", TENANT),
                       practitioner_id=fields.pop("practitioner_id", "dr-lindqvist"), provider=Provider.MICROSOFT,
                       calendar_id=calendar_id, secret_ref=secret_ref or "unused",
                       privacy=fields.pop("privacy", PrivacySettings()),
                       options=fields.pop("options", {}),
                       **fields)


class SecretCalls:
    """Counts the Secrets Manager operations calsync makes (whichever tenant session makes them) and the
    ``sts:AssumeRole`` calls that open those sessions."""

    def __init__(self) -> None:
        self.operations: list[str] = []
        self._watch = aws_calls.watching(self._seen)

    def __enter__(self) -> SecretCalls:
        self._watch.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._watch.__exit__(None, None, None)

    def _seen(self, call: aws_calls.Call) -> None:
        if call.service in ("secretsmanager", "sts"):  # a secret, or the tenant session to read it with
            self.operations.append(call.operation)

    def clear(self) -> None:
        self.operations.clear()
