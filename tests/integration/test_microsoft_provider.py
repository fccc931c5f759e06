"""The Microsoft token lifecycle against the Microsoft simulator (HTTPS, msal) and Secrets Manager (moto):
a bare refresh token migrated into an msal cache, rotated refresh tokens written back only when the
cache changed, two cold starts refreshing at once, a revoked consent and the reconnect after it, and
organisation mode (client credentials, one token per tenant, the admin's consent)."""

from __future__ import annotations

import datetime as dt
import json
import threading
import uuid
from typing import Any

import pytest

from calsync.core.errors import ProviderAuthError
from calsync.domain.event import CalendarEvent, EventKey
from calsync.oauth import memory
from calsync.oauth import token_secret as token_secret
from calsync.services import writers
from devstack.sims.microsoft import MicrosoftGraphSimulator
from devstack.stack import LocalStack
from tests.support.simulators import (
    CLIENT_ID,
    CLIENT_SECRET,
    MS_TENANT,
    MS_USER,
    TENANT,
    SecretCalls,
    forget_calsync_state,
    microsoft_integration,
)

START = dt.datetime(2026, 11, 24, 14, 30, tzinfo=dt.UTC)


def event(n: int) -> CalendarEvent:
    start = START + dt.timedelta(hours=n)
    return CalendarEvent(summary=f"#A-{n}", description="Client: #A", location=None, start=start,
                         end=start + dt.timedelta(minutes=50), timezone="America/New_York", all_day=False)


def stored(stack: LocalStack, arn: str) -> dict[str, Any]:
    value = stack.client("secretsmanager").get_secret_value(SecretId=arn, VersionStage="AWSCURRENT")
    loaded: dict[str, Any] = json.loads(value["SecretString"])
    return loaded


def cached_refresh_tokens(value: dict[str, Any]) -> list[str]:
    return [entry["secret"] for entry in json.loads(value["msal_cache"])["RefreshToken"].values()]


def connect(stack: LocalStack, sim: MicrosoftGraphSimulator) -> tuple[str, str]:
    calendar = sim.add_user(MS_USER, MS_TENANT)
    arn = stack.put_secret(TENANT, f"test/microsoft/{uuid.uuid4().hex}", {
        "refresh_token": sim.connect(MS_USER, CLIENT_ID, MS_TENANT), "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET})
    return arn, calendar


def test_a_bare_refresh_token_becomes_an_msal_cache_and_warm_calls_touch_nothing(stack, microsoft_sim):
    arn, calendar = connect(stack, microsoft_sim)
    provider = writers.build(microsoft_integration(microsoft_sim, calendar, secret_ref=arn))
    with SecretCalls() as calls:
        written = provider.upsert(EventKey("i", "t", "a1"), event(1), None)
        assert calls.operations == ["AssumeRole", "GetSecretValue", "PutSecretValue", "UpdateSecretVersionStage"]
        calls.clear()
        for n in range(2, 5):
            written = provider.upsert(EventKey("i", "t", "a1"), event(n), written)
        assert calls.operations == []
    value = stored(stack, arn)
    assert "refresh_token" not in value and value["client_id"] == CLIENT_ID
    assert cached_refresh_tokens(value)[0] in microsoft_sim.tokens.live_refresh_tokens(MS_USER)
    assert len(microsoft_sim.token_requests()) == 1

    # a cold start elsewhere: the access token in the stored cache is still good, so msal needs no
    # token request and the cache has not changed, so nothing is written back
    forget_calsync_state()
    with SecretCalls() as calls:
        writers.build(microsoft_integration(microsoft_sim, calendar, secret_ref=arn)).upsert(
            EventKey("i", "t", "a1"), event(5), written)
        assert calls.operations == ["AssumeRole", "GetSecretValue"]
    assert len(microsoft_sim.token_requests()) == 1


def test_every_rotation_is_written_back_and_the_stored_token_stays_live(stack, microsoft_sim):
    arn, calendar = connect(stack, microsoft_sim)
    provider = writers.build(microsoft_integration(microsoft_sim, calendar, secret_ref=arn))
    written = provider.upsert(EventKey("i", "t", "a1"), event(1), None)
    first = cached_refresh_tokens(stored(stack, arn))
    microsoft_sim.expire_access_tokens()  # mid-batch: the next call answers 401
    provider.upsert(EventKey("i", "t", "a1"), event(2), written)
    second = cached_refresh_tokens(stored(stack, arn))
    assert first != second
    assert [r.status for r in microsoft_sim.api_requests()] == [201, 401, 200]
    assert len(microsoft_sim.token_requests()) == 2
    assert second[0] in microsoft_sim.tokens.live_refresh_tokens(MS_USER)


def test_two_cold_starts_refreshing_at_once_neither_corrupt_nor_lose_the_token(stack, microsoft_sim, monkeypatch):
    arn, calendar = connect(stack, microsoft_sim)
    integration = microsoft_integration(microsoft_sim, calendar, secret_ref=arn)
    writers.token_source(integration).access_token()
    both_read = threading.Barrier(2)
    one_write_at_a_time = threading.Lock()
    outcomes: list[bool] = []
    real_load, real_swap = token_secret.load, token_secret.swap

    def load(provider: str, tenant_id: str, ref: str | None) -> token_secret.StoredSecret:
        value = real_load(provider, tenant_id, ref)
        both_read.wait(timeout=10)  # both invocations hold the same version before either writes
        return value

    def swap(read: token_secret.StoredSecret, value: dict[str, Any]) -> bool:
        with one_write_at_a_time:
            outcomes.append(real_swap(read, value))
            return outcomes[-1]

    monkeypatch.setattr(token_secret, "load", load)
    monkeypatch.setattr(token_secret, "swap", swap)
    sources = [writers.token_source(integration)
               for _ in range(2)]
    tokens: list[str] = []
    threads = [threading.Thread(target=lambda s=s: tokens.append(s._obtain(force=True).value)) for s in sources]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == [False, True] and len(tokens) == 2
    monkeypatch.undo()
    kept = cached_refresh_tokens(stored(stack, arn))
    assert kept[0] in microsoft_sim.tokens.live_refresh_tokens(MS_USER)
    memory.drop()
    fresh = writers.token_source(integration)
    memory.drop()
    assert fresh.access_token()  # the stored cache still refreshes


def test_revoked_consent_needs_reauth_and_a_reconnect_recovers(stack, microsoft_sim):
    arn, calendar = connect(stack, microsoft_sim)
    provider = writers.build(microsoft_integration(microsoft_sim, calendar, secret_ref=arn))
    provider.upsert(EventKey("i", "t", "a1"), event(1), None)
    before = stored(stack, arn)
    microsoft_sim.revoke(MS_USER)
    with pytest.raises(ProviderAuthError) as raised:
        provider.upsert(EventKey("i", "t", "a2"), event(2), None)
    assert raised.value.reason == "reauth_required"
    assert microsoft_sim.token_requests()[-1].status == 400
    assert stored(stack, arn) == before  # a failed refresh writes nothing
    with pytest.raises(ProviderAuthError):  # msal holds the refused request back; still no access
        provider.upsert(EventKey("i", "t", "a2"), event(2), None)
    # the clinician reconnects: the connect flow stores their new consent
    token_secret.replace(TENANT, arn, {"refresh_token": microsoft_sim.connect(MS_USER, CLIENT_ID, MS_TENANT),
                               "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET})
    provider.upsert(EventKey("i", "t", "a2"), event(2), None)
    assert len(microsoft_sim.events(MS_USER)) == 2


def test_organisation_mode_shares_one_app_token_per_tenant_and_needs_the_admins_consent(stack, microsoft_sim):
    second_user = "dr.okafor@northside.example"
    calendars = {user: microsoft_sim.add_user(user, MS_TENANT) for user in (MS_USER, second_user)}
    app_secret = stack.put_secret(TENANT, f"test/app/{uuid.uuid4().hex}",
                                  {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET})
    tenant_secret = stack.put_secret(TENANT, f"test/tenant/{uuid.uuid4().hex}", {"tenant_id": MS_TENANT})
    microsoft_sim.admin_consent(MS_TENANT, CLIENT_ID)
    providers = [
        writers.build(microsoft_integration(
            microsoft_sim, calendars[user], secret_ref=tenant_secret, integration_id=f"int-{user}",
            options={"graph_mode": "organisation", "graph_user_id": user, "tenant_id": MS_TENANT,
                     "app_secret_ref": app_secret}))
        for user in (MS_USER, second_user)
    ]
    for n, provider in enumerate(providers):
        provider.upsert(EventKey("i", "t", f"a{n}"), event(n), None)
    assert [len(microsoft_sim.events(user)) for user in (MS_USER, second_user)] == [1, 1]
    [token_request] = microsoft_sim.token_requests()
    assert token_request.request.path == f"/{MS_TENANT}/oauth2/v2.0/token"
    assert token_request.request.form()["grant_type"] == "client_credentials"
    microsoft_sim.admin_consent(MS_TENANT, CLIENT_ID, granted=False)
    with pytest.raises(ProviderAuthError) as raised:
        providers[0].upsert(EventKey("i", "t", "a9"), event(9), None)
    assert raised.value.reason == "ErrorAccessDenied"
