"""The integration API as the EHR's backend uses it (SigV4 as a tenant's identity): status and settings,
a privacy change that re-renders every event already pushed in one sweeper run, pause and resume with
backfill, feeds and their URLs, tenants that cannot see each other, and a disconnect that leaves no
usable token anywhere (Google revoked at its RFC 7009 endpoint, Microsoft's dropped), stops channels
through the disconnect hooks, retires the secret and can remove every event."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from calsync.domain.model import Integration
from calsync.services import lifecycle
from calsync.store import integrations
from tests.support.connect import (
    GOOGLE_USER,
    MS_USER,
    Api,
    Sims,
    appointment_entry,
    connect_google,
    connect_microsoft,
    dump_memory,
    dump_secrets,
    dump_tables,
    signed,
)
from tests.support.pipeline import deliver
from tests.support.simulators import forget_calsync_state


@pytest.fixture
def stopped() -> Iterator[list[str]]:
    """The disconnect hooks' calls (a stand-in for the channel stopping two-way sync registers)."""
    calls: list[str] = []

    def hook(integration: Integration) -> None:
        calls.append(integration.integration_id)

    lifecycle.register_on_disconnect(hook)
    yield calls
    lifecycle._on_disconnect.remove(hook)


def deliver_many(sims: Sims, tenant_id: str, practitioner: str, count: int) -> None:
    stack = sims.deployment.stack
    deliver(stack, stack.resources, [appointment_entry(tenant_id, practitioner, f"apt-{n}") for n in range(count)])


def test_the_tenant_is_the_callers_identity_and_tenants_cannot_see_each_other(connect_sims, api):
    found = connect_google(connect_sims, api, "dr-okafor")
    other = Api(connect_sims.deployment, api.tenant_id + "-other")
    integration_id = found["integration_id"]
    assert other.call("GET", "/integrations?practitioner_id=dr-okafor").json() == {"integrations": []}
    for method, path, body in [("GET", f"/integrations/{integration_id}", None),
                               ("PATCH", f"/integrations/{integration_id}/settings", {"window": {"past_days": 1}}),
                               ("POST", f"/integrations/{integration_id}/pause", None),
                               ("POST", f"/integrations/{integration_id}/resume", {"backfill": True}),
                               ("POST", f"/integrations/{integration_id}/disconnect", {"remove_events": True}),
                               ("POST", "/connect-links", {"practitioner_id": "dr-okafor",
                                                           "reconnect_integration_id": integration_id})]:
        answer = other.call(method, path, body)
        assert answer.status_code == 404, (method, path, answer.text)
        assert api.tenant_id not in answer.text
    assert api.integration(integration_id)["status"] == "active"  # untouched
    unsigned = httpx.get(api.base + f"/integrations/{integration_id}")
    assert unsigned.status_code == 403
    smuggled = json.dumps({"practitioner_id": "x", "tenant_id": api.tenant_id}).encode()
    assert signed(other.identity, "POST", other.base + "/connect-links", raw=smuggled).status_code == 422


def test_a_privacy_change_rewrites_every_event_already_pushed_in_one_sweeper_run(connect_sims, api):
    found = connect_google(connect_sims, api, "dr-okafor")
    deliver_many(connect_sims, api.tenant_id, "dr-okafor", 40)
    calendar = found["settings"]["calendar_id"]
    assert {e["summary"] for e in connect_sims.google.events(calendar)} == {"[Main Street Family Practice] #A-77"}
    changed = api.call("PATCH", f"/integrations/{found['integration_id']}/settings",
                       {"privacy": {"client_display": "initials", "reminder_minutes": 5}})
    assert changed.status_code == 200, changed.text
    settings = changed.json()["settings"]
    assert settings["privacy"]["client_display"] == "initials" and settings["privacy"]["show_location"] is True
    forget_calsync_state()  # a cold sweeper: its first call reads the secrets and the OAuth client
    connect_sims.deployment.run_schedule_now()
    events = connect_sims.google.events(calendar)
    assert len(events) == 40
    assert {e["summary"] for e in events} == {"[Main Street Family Practice] J.R."}
    assert {e["reminders"]["overrides"][0]["minutes"] for e in events} == {5}


def test_settings_are_validated(connect_sims, api):
    found = connect_google(connect_sims, api, "dr-okafor")
    path = f"/integrations/{found['integration_id']}/settings"
    assert api.call("PATCH", path, {"status": "active"}).status_code == 422
    assert api.call("PATCH", path, {"window": {"past_days": -1}}).status_code == 422
    assert api.call("PATCH", path, {"privacy": {"reminder_minutes": 10 ** 6}}).status_code == 422
    assert api.integration(found["integration_id"])["settings"]["window"]["past_days"] == 30


def test_pause_then_resume_with_backfill(connect_sims, api):
    found = connect_google(connect_sims, api, "dr-okafor")
    integration_id = found["integration_id"]
    assert api.call("POST", f"/integrations/{integration_id}/pause").json()["status"] == "paused"
    deliver_many(connect_sims, api.tenant_id, "dr-okafor", 3)
    assert connect_sims.google.events(found["settings"]["calendar_id"]) == []
    assert api.call("POST", f"/integrations/{integration_id}/pause").status_code == 200
    resumed = api.call("POST", f"/integrations/{integration_id}/resume", {"backfill": True})
    assert resumed.status_code == 200 and resumed.json()["status"] == "active"
    connect_sims.deployment.run_schedule_now()
    assert len(connect_sims.google.events(found["settings"]["calendar_id"])) == 3
    assert api.call("POST", f"/integrations/{integration_id}/resume", {"backfill": False}).status_code == 409


def test_disconnecting_google_revokes_the_grant_stops_channels_and_removes_every_event(connect_sims, api, stopped):
    found = connect_google(connect_sims, api, "dr-okafor")
    deliver_many(connect_sims, api.tenant_id, "dr-okafor", 5)
    calendar = found["settings"]["calendar_id"]
    assert len(connect_sims.google.events(calendar)) == 5
    secret_ref = integrations.get(found["integration_id"]).secret_ref  # type: ignore[union-attr]
    forget_calsync_state()  # a cold API: its first call reads the secrets and the OAuth client
    done = api.call("POST", f"/integrations/{found['integration_id']}/disconnect", {"remove_events": True})
    assert done.status_code == 200, done.text
    result = done.json()
    assert result["revoked"] and result["secret_retired"] and result["events_removed"] == 5
    assert result["events_left"] == 0 and result["integration"]["status"] == "disconnected"
    assert connect_sims.google.events(calendar) == []
    assert stopped == [found["integration_id"]]
    issued = connect_sims.google.issued_refresh_tokens(GOOGLE_USER)
    assert issued and connect_sims.google.tokens_in(" ".join(issued)) == []  # dead at Google itself
    stack = connect_sims.deployment.stack
    everywhere = "\n".join([dump_tables(), dump_secrets(stack), dump_memory()])
    assert connect_sims.google.tokens_in(everywhere) == []
    assert stack.client("secretsmanager").describe_secret(SecretId=secret_ref).get("DeletedDate")
    deliver_many(connect_sims, api.tenant_id, "dr-okafor", 1)
    assert connect_sims.google.events(calendar) == []  # nothing writes any more
    again = api.call("POST", f"/integrations/{found['integration_id']}/disconnect", {"remove_events": False})
    assert again.status_code == 409


def test_disconnecting_microsoft_leaves_no_usable_token_anywhere(connect_sims, api, stopped):
    found = connect_microsoft(connect_sims, api, "dr-lindqvist")
    deliver_many(connect_sims, api.tenant_id, "dr-lindqvist", 2)
    stack = connect_sims.deployment.stack
    before = "\n".join([dump_tables(), dump_secrets(stack), dump_memory()])
    assert connect_sims.microsoft.tokens_in(before)  # the consent is held (in the secret) while connected
    forget_calsync_state()  # a cold API: its first call reads the secrets and the OAuth client
    done = api.call("POST", f"/integrations/{found['integration_id']}/disconnect", {"remove_events": False})
    assert done.status_code == 200 and not done.json()["revoked"] and done.json()["secret_retired"]
    assert stopped == [found["integration_id"]]
    assert len(connect_sims.microsoft.events(MS_USER, found["settings"]["calendar_id"])) == 2  # kept, as asked
    after = "\n".join([dump_tables(), dump_secrets(stack), dump_memory()])
    assert connect_sims.microsoft.tokens_in(after) == []
    secret_ref = integrations.get(found["integration_id"]).secret_ref  # type: ignore[union-attr]
    secrets = stack.client("secretsmanager")
    secrets.restore_secret(SecretId=secret_ref)  # an operator undoing the deletion gets no token back
    # by label, as calsync reads it (moto's unlabelled read would ignore the staging moves)
    current = secrets.get_secret_value(SecretId=secret_ref, VersionStage="AWSCURRENT")["SecretString"]
    previous = secrets.get_secret_value(SecretId=secret_ref, VersionStage="AWSPREVIOUS")["SecretString"]
    assert json.loads(current) == json.loads(previous) == {"retired": True}


def test_feeds_and_their_urls(connect_sims, api):
    """A feed created through the API starts with the appointments already in its window (rendered in the
    request), then its URLs are added, rotated and revoked, each visible only to its own tenant."""
    deliver_many(connect_sims, api.tenant_id, "dr-okafor", 3)
    created = api.call("POST", "/feeds", {"practitioner_id": "dr-okafor", "name": "Clinic"})
    assert created.status_code == 201, created.text
    feed_id, first = created.json()["feed"]["integration_id"], created.json()["url"]
    body = httpx.get(first["url"])
    assert body.status_code == 200 and body.text.count("BEGIN:VEVENT") == 3
    second = api.call("POST", f"/feeds/{feed_id}/urls").json()
    rotated = api.call("POST", f"/feeds/{feed_id}/urls/{first['token_id']}/rotate")
    assert rotated.status_code == 201
    assert httpx.get(first["url"]).status_code == 410 and httpx.get(rotated.json()["url"]).status_code == 200
    assert api.call("DELETE", f"/feeds/{feed_id}/urls/{second['token_id']}").status_code == 204
    assert httpx.get(second["url"]).status_code == 410
    listed = api.call("GET", f"/feeds/{feed_id}/urls").json()["urls"]
    assert len(listed) == 3 and sum(u["revoked_at"] is None for u in listed) == 1
    other = Api(connect_sims.deployment, api.tenant_id + "-other")
    assert other.call("GET", f"/feeds/{feed_id}/urls").status_code == 404
    assert other.call("POST", f"/feeds/{feed_id}/urls").status_code == 404
    gone = api.call("POST", f"/integrations/{feed_id}/disconnect", {"remove_events": True})
    assert gone.status_code == 200 and httpx.get(rotated.json()["url"]).status_code == 410
