"""The Google token lifecycle against the Google simulator and Secrets Manager (moto): the refresh token
in the integration's secret, access tokens kept in memory (no Secrets Manager call when warm), a refresh
in the middle of a batch, a revoked consent and the reconnect after it, token-endpoint outages, and the
compare-and-swap write-back of a rotated refresh token."""

from __future__ import annotations

import datetime as dt
import json
import uuid

import pytest

from calsync.core.errors import ProviderAuthError, ProviderRateLimitedError, ProviderUnavailableError
from calsync.domain.event import CalendarEvent, EventKey, Written
from calsync.oauth import token_secret as token_secret
from calsync.providers.base import CalendarProvider
from calsync.services import writers
from devstack.sims.google import GoogleCalendarSimulator
from devstack.stack import LocalStack
from tests.support.simulators import (
    CLIENT_ID,
    CLIENT_SECRET,
    GOOGLE_USER,
    TENANT,
    SecretCalls,
    google_integration,
)

START = dt.datetime(2026, 11, 24, 14, 30, tzinfo=dt.UTC)


def event(n: int) -> CalendarEvent:
    start = START + dt.timedelta(hours=n)
    return CalendarEvent(summary=f"#A-{n}", description="Client: #A", location=None, start=start,
                         end=start + dt.timedelta(minutes=50), timezone="America/New_York", all_day=False)


def connect(stack: LocalStack, sim: GoogleCalendarSimulator) -> tuple[str, CalendarProvider]:
    refresh_token = sim.connect(GOOGLE_USER, CLIENT_ID)
    arn = stack.put_secret(TENANT, f"test/google/{uuid.uuid4().hex}", {
        "refresh_token": refresh_token, "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET})
    return arn, writers.build(google_integration(sim, secret_ref=arn))


def stored(stack: LocalStack, arn: str) -> dict[str, str]:
    value = stack.client("secretsmanager").get_secret_value(SecretId=arn, VersionStage="AWSCURRENT")
    loaded: dict[str, str] = json.loads(value["SecretString"])
    return loaded


def test_warm_calls_make_no_secrets_manager_or_token_call(stack, google_sim):
    _arn, provider = connect(stack, google_sim)
    with SecretCalls() as calls:
        written = provider.upsert(EventKey("i", "t", "a1"), event(1), None)
        assert calls.operations == ["AssumeRole", "GetSecretValue"]  # the tenant's session, then its secret
        calls.clear()
        for n in range(2, 6):
            written = provider.upsert(EventKey("i", "t", "a1"), event(n), written)
        assert calls.operations == []
    assert len(google_sim.token_requests()) == 1
    assert len(google_sim.api_requests()) == 5


def test_token_expiry_mid_batch_refreshes_once_and_continues(stack, google_sim):
    _arn, provider = connect(stack, google_sim)
    written: dict[int, Written] = {}
    for n in range(6):
        if n == 3:
            google_sim.expire_access_tokens()
        written[n] = provider.upsert(EventKey("i", "t", f"a{n}"), event(n), None)
    assert len(google_sim.events(GOOGLE_USER)) == 6
    assert [r.status for r in google_sim.token_requests()] == [200, 200]
    assert [r.status for r in google_sim.api_requests()].count(401) == 1


def test_revoked_consent_needs_reauth_and_a_reconnect_recovers_without_a_restart(stack, google_sim):
    arn, provider = connect(stack, google_sim)
    provider.upsert(EventKey("i", "t", "a1"), event(1), None)
    google_sim.revoke(GOOGLE_USER)
    with pytest.raises(ProviderAuthError) as raised:
        provider.upsert(EventKey("i", "t", "a2"), event(2), None)
    assert raised.value.reason == "reauth_required"
    assert google_sim.token_requests()[-1].status == 400
    # the clinician reconnects: the connect flow stores the new refresh token
    token_secret.replace(TENANT, arn,
                         {**stored(stack, arn), "refresh_token": google_sim.connect(GOOGLE_USER, CLIENT_ID)})
    provider.upsert(EventKey("i", "t", "a2"), event(2), None)
    assert len(google_sim.events(GOOGLE_USER)) == 2


def test_token_endpoint_trouble_ends_the_attempt_at_once_with_its_wait(stack, google_sim):
    _arn, provider = connect(stack, google_sim)
    google_sim.inject(path_contains="/token", status=503)
    with pytest.raises(ProviderUnavailableError):
        provider.upsert(EventKey("i", "t", "a1"), event(1), None)
    google_sim.inject(path_contains="/token", status=429, retry_after=30)
    with pytest.raises(ProviderRateLimitedError) as raised:
        provider.upsert(EventKey("i", "t", "a1"), event(1), None)
    assert raised.value.retry_after == 30.0
    assert len(google_sim.token_requests()) == 2  # google-auth's own retry loop did not run
    provider.upsert(EventKey("i", "t", "a1"), event(1), None)
    assert len(google_sim.events(GOOGLE_USER)) == 1


def test_a_rotated_refresh_token_is_written_back(stack, google_sim):
    google_sim.rotate_refresh_tokens = True
    arn, provider = connect(stack, google_sim)
    before = stored(stack, arn)["refresh_token"]
    provider.upsert(EventKey("i", "t", "a1"), event(1), None)
    after = stored(stack, arn)
    assert after["refresh_token"] != before and after["client_id"] == CLIENT_ID
    assert after["refresh_token"] in google_sim.tokens.live_refresh_tokens(GOOGLE_USER)


def test_write_backs_from_one_version_keep_exactly_one(stack, google_sim):
    """Two invocations refreshed from the same version: whichever moves AWSCURRENT first wins; the
    other's move names a version that is no longer current and is refused (Secrets Manager, like moto,
    checks RemoveFromVersionId), so it never overwrites the winner."""
    arn = stack.put_secret(TENANT, f"test/cas/{uuid.uuid4().hex}", {"refresh_token": "rt-0"})
    first, second = token_secret.load("google", TENANT, arn), token_secret.load("google", TENANT, arn)
    assert first.version_id == second.version_id
    assert token_secret.swap(first, {"refresh_token": "rt-first"}) is True
    assert token_secret.swap(second, {"refresh_token": "rt-second"}) is False
    assert stored(stack, arn) == {"refresh_token": "rt-first"}
    newer = token_secret.load("google", TENANT, arn)
    assert token_secret.swap(newer, {"refresh_token": "rt-third"}) is True
    assert stored(stack, arn) == {"refresh_token": "rt-third"}
