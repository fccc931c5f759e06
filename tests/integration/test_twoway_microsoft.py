"""Two-way sync with Microsoft 365 (the Graph simulator), end to end through the local deployment: a
subscription per watched calendar created through Graph's validation handshake against the webhook route,
change notifications verified by their clientState, lifecycle notifications (reauthorizationRequired,
subscriptionRemoved, missed), calendarView/delta with delta links and their expiry, all-day events on
their own dates, an Outlook drag of a calsync event undone."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import httpx
import pytest

from calsync.domain.model import AllDayPolicy
from calsync.services import lifecycle
from calsync.store import ledger, pulls, watches
from devstack.deployment import Deployment
from devstack.sims.microsoft import MicrosoftGraphSimulator
from tests.support.reliability import Clock, Ehr
from tests.support.twoway import PULL_WORKER, Outbound, blocks, send_changes, settle, spans, start, two_way_microsoft

ZONE = ZoneInfo("Europe/Stockholm")


def day(offset: int = 1) -> dt.date:
    return (dt.datetime.now(ZONE) + dt.timedelta(days=offset)).date()


def at(hour: int, minute: int = 0, offset: int = 1) -> dt.datetime:
    return dt.datetime.combine(day(offset), dt.time(hour, minute), ZONE)


@pytest.fixture
def watched(deployment: Deployment, microsoft_sim: MicrosoftGraphSimulator, tenant_id: str):
    clinician = two_way_microsoft(deployment.stack, microsoft_sim, tenant_id)
    start(clinician.integration.integration_id)
    settle(deployment, microsoft_sim)
    return clinician


def test_the_subscription_is_validated_and_notifications_become_busy_time(deployment, microsoft_sim, watched):
    (subscription,) = microsoft_sim.active_subscriptions(watched.user)
    (watch,) = watches.of_integration(watched.integration.integration_id)
    assert subscription.id == watch.resource_id
    assert subscription.notification_url == f"{deployment.api.base_url}/webhooks/microsoft?watch={watch.watch_id}"
    assert subscription.lifecycle_url == subscription.notification_url
    validations = [d for d in microsoft_sim.push.deliveries if "validationToken" in d.notification.url]
    assert validations == []  # the handshake is a call, not a notification: it happened before the 201
    microsoft_sim.create_event(watched.user, at(12), at(13), "Dentist", calendar=watched.integration.calendar_id)
    settle(deployment, microsoft_sim)
    assert spans(watched.integration.integration_id) == [(at(12), at(13))]


def test_free_tentative_out_of_office_and_declined_events(deployment, microsoft_sim, watched):
    user, calendar = watched.user, watched.integration.calendar_id
    microsoft_sim.create_event(user, at(8), at(9), "Free", calendar=calendar, showAs="free")
    microsoft_sim.create_event(user, at(9), at(10), "Maybe", calendar=calendar, showAs="tentative")
    microsoft_sim.create_event(user, at(10), at(11), "Away", calendar=calendar, showAs="oof")
    microsoft_sim.create_event(user, at(11), at(12), "Declined", calendar=calendar,
                               responseStatus={"response": "declined", "time": "2026-01-01T00:00:00Z"})
    settle(deployment, microsoft_sim)
    assert [(b.start, b.status.value) for b in blocks(watched.integration.integration_id)] == [
        (at(9), "tentative"), (at(10), "out_of_office")]


def test_an_all_day_event_blocks_its_own_days_not_a_shifted_pair(deployment, microsoft_sim, tenant_id):
    clinician = two_way_microsoft(deployment.stack, microsoft_sim, tenant_id, all_day_busy=AllDayPolicy.ALWAYS)
    start(clinician.integration.integration_id)
    settle(deployment, microsoft_sim)
    first = dt.datetime.combine(day(3), dt.time(0), ZONE)
    microsoft_sim.create_event(clinician.user, first, first + dt.timedelta(days=1), "Holiday",
                               calendar=clinician.integration.calendar_id, isAllDay=True, showAs="free")
    settle(deployment, microsoft_sim)
    (block,) = blocks(clinician.integration.integration_id)
    assert (block.start_date, block.end_date, block.all_day) == (day(3), day(4), True)
    assert (block.start, block.end) == (first, first + dt.timedelta(days=1))  # Stockholm midnights


def test_a_forged_client_state_or_unknown_watch_changes_nothing(deployment, microsoft_sim, watched):
    (watch,) = watches.of_integration(watched.integration.integration_id)
    url = f"{deployment.api.base_url}/webhooks/microsoft"
    item = {"subscriptionId": watch.resource_id, "changeType": "created", "clientState": "guessed",
            "resource": "Users/x/Events/y", "tenantId": "t"}
    forged = httpx.post(url, params={"watch": watch.watch_id}, json={"value": [item]}, timeout=10)
    unknown = httpx.post(url, params={"watch": "cs-nobody"}, json={"value": [item]}, timeout=10)
    malformed = httpx.post(url, params={"watch": watch.watch_id}, content=b"not json", timeout=10)
    echo = httpx.post(url, params={"validationToken": "<b>hello & bye</b>"}, timeout=10)
    assert (forged.status_code, unknown.status_code, malformed.status_code) == (401, 404, 400)
    assert (echo.status_code, echo.text, echo.headers["content-type"]) == (
        200, "<b>hello & bye</b>", "text/plain; charset=utf-8")
    assert deployment.drain(PULL_WORKER).received == 0


def test_lifecycle_notifications_renew_recreate_and_resync(deployment, microsoft_sim, watched):
    integration_id = watched.integration.integration_id
    (subscription,) = microsoft_sim.active_subscriptions(watched.user)
    old_expiry = subscription.expiration
    # reauthorizationRequired: notifications pause until the subscription is renewed
    assert microsoft_sim.lifecycle(subscription.id, "reauthorizationRequired")
    settle(deployment, microsoft_sim)
    (renewed,) = microsoft_sim.active_subscriptions(watched.user)
    assert renewed.id == subscription.id and not renewed.paused and renewed.expiration >= old_expiry
    # missed: notifications were lost, so the whole window is read again (delta from scratch)
    microsoft_sim.push.drop()
    microsoft_sim.create_event(watched.user, at(9), at(10), "Lost", calendar=watched.integration.calendar_id)
    microsoft_sim.push.wait_idle()
    assert microsoft_sim.lifecycle(subscription.id, "missed")
    settle(deployment, microsoft_sim)
    assert spans(integration_id) == [(at(9), at(10))]
    # subscriptionRemoved: a new subscription, then everything read again
    assert microsoft_sim.lifecycle(subscription.id, "subscriptionRemoved")
    settle(deployment, microsoft_sim)
    (recreated,) = microsoft_sim.active_subscriptions(watched.user)
    assert recreated.id != subscription.id
    microsoft_sim.create_event(watched.user, at(14), at(15), "After", calendar=watched.integration.calendar_id)
    settle(deployment, microsoft_sim)
    assert spans(integration_id) == [(at(9), at(10)), (at(14), at(15))]


@pytest.mark.parametrize("code", ["syncStateNotFound", "resyncRequired"])
def test_an_expired_delta_link_is_a_bounded_full_resync_without_duplicates(deployment, microsoft_sim, watched,
                                                                             code):
    calendar = watched.integration.calendar_id
    for hour in (9, 11):
        microsoft_sim.create_event(watched.user, at(hour), at(hour + 1), "Busy", calendar=calendar)
    settle(deployment, microsoft_sim)
    before = blocks(watched.integration.integration_id)
    assert microsoft_sim.expire_delta_tokens(watched.user, code=code) > 0
    microsoft_sim.create_event(watched.user, at(15), at(16), "Busy", calendar=calendar)
    settle(deployment, microsoft_sim)
    after = blocks(watched.integration.integration_id)
    assert [b.block_id for b in after[:2]] == [b.block_id for b in before]
    assert [(b.start, b.end) for b in after] == [(at(9), at(10)), (at(11), at(12)), (at(15), at(16))]


def test_a_calsync_event_dragged_in_outlook_is_restored(deployment, microsoft_sim, tenant_id, watched):
    out = Outbound.listen(deployment.stack, tenant_id)
    ehr = Ehr(tenant_id, Clock())
    booked = ehr.change("apt-3", 10, practitioner="dr-lindqvist", day_offset=2)
    send_changes(deployment, booked)
    settle(deployment, microsoft_sim)
    entry = ledger.get(watched.integration.integration_id, booked.key)
    assert entry is not None and entry.external_id is not None
    microsoft_sim.move_event(watched.user, entry.external_id, booked.start.astimezone(ZONE) + dt.timedelta(hours=3))
    settle(deployment, microsoft_sim)
    (event,) = microsoft_sim.events(watched.user, watched.integration.calendar_id)
    start = event["start"]
    restored = dt.datetime.fromisoformat(start["dateTime"]).replace(tzinfo=ZoneInfo(start["timeZone"]))
    assert restored == booked.start
    assert [e["edit"] for e in out.of("External Edit Reverted")] == ["moved"]
    assert blocks(watched.integration.integration_id) == []


def test_another_applications_transaction_id_is_busy_time_not_ours(deployment, microsoft_sim, watched):
    microsoft_sim.create_event(watched.user, at(12), at(13), "Booked elsewhere",
                               calendar=watched.integration.calendar_id, transactionId="0123456789abcdef" * 2)
    settle(deployment, microsoft_sim)
    assert spans(watched.integration.integration_id) == [(at(12), at(13))]


def test_a_recurring_series_with_a_moved_and_a_cancelled_occurrence(deployment, microsoft_sim, watched):
    user, calendar = watched.user, watched.integration.calendar_id
    series = microsoft_sim.create_event(user, at(8), at(9), "Physio", calendar=calendar,
                                        recurrence=microsoft_sim.weekly(at(8), count=3))
    microsoft_sim.move_occurrence(user, series["id"], at(8, offset=8), at(17, offset=8))
    microsoft_sim.cancel_occurrence(user, series["id"], at(8, offset=15))
    settle(deployment, microsoft_sim)
    assert spans(watched.integration.integration_id) == [(at(8), at(9)), (at(17, offset=8), at(18, offset=8))]


def test_disconnect_deletes_the_subscription(deployment, microsoft_sim, watched):
    lifecycle.disconnect(watched.integration.integration_id)
    assert microsoft_sim.active_subscriptions(watched.user) == []
    assert watches.of_integration(watched.integration.integration_id) == []
    settle(deployment, microsoft_sim)  # the pull that withdraws the busy time and forgets the pull state
    assert pulls.state(watched.integration.integration_id) is None
