"""Helpers for the two-way sync tests: clinicians connected two-way to the simulators and Radicale, the pull
worker driven on its queue until calendars and queue are quiet, and what calsync published on its bus."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from calsync.domain.busy import BusyBlock
from calsync.domain.model import Direction, PrivacySettings
from calsync.services.twoway import watching
from calsync.store import busy, integrations
from devstack.clinicians import CalDavClinician, connect_caldav
from devstack.deployment import Deployment
from devstack.oauth_clinicians import OAuthClinician, connect_google, connect_microsoft
from devstack.sims.google import GoogleCalendarSimulator
from devstack.sims.microsoft import MicrosoftGraphSimulator
from devstack.stack import EHR_SOURCE, LocalStack

PULL_WORKER = "PullWorkerFunction"
OUTBOUND = ("External Busy Time Changed", "Conflict Detected", "Conflict Resolved", "External Edit Reverted",
            "Integration Status Changed")
PRIVACY = PrivacySettings(show_practice_name=False)
Sim = GoogleCalendarSimulator | MicrosoftGraphSimulator


def two_way_google(stack: LocalStack, sim: GoogleCalendarSimulator, tenant_id: str, practitioner: str = "dr-okafor",
                   **settings: Any) -> OAuthClinician:
    sim.channels.allow_http_loopback = True
    settings.setdefault("direction", Direction.TWO_WAY)
    return connect_google(stack, sim, tenant_id=tenant_id, practitioner_id=practitioner, privacy=PRIVACY, **settings)


def two_way_microsoft(stack: LocalStack, sim: MicrosoftGraphSimulator, tenant_id: str,
                      practitioner: str = "dr-lindqvist", **settings: Any) -> OAuthClinician:
    sim.subscriptions.allow_http_loopback = True
    settings.setdefault("direction", Direction.TWO_WAY)
    return connect_microsoft(stack, sim, tenant_id=tenant_id, practitioner_id=practitioner, privacy=PRIVACY,
                             **settings)


def two_way_caldav(stack: LocalStack, tenant_id: str, practitioner: str = "dr-adeyemi",
                   **settings: Any) -> CalDavClinician:
    settings.setdefault("direction", Direction.TWO_WAY)
    return connect_caldav(stack, tenant_id=tenant_id, practitioner_id=practitioner, privacy=PRIVACY, **settings)


def start(integration_id: str, now: dt.datetime | None = None) -> None:
    stored = integrations.get(integration_id)
    assert stored is not None
    watching.start_watching(stored, now)


def settle(deployment: Deployment, *sims: Sim, rounds: int = 6) -> int:
    """Lets notifications arrive and runs the pull worker until nothing is on its way; returns the jobs run."""
    jobs = 0
    for _ in range(rounds):
        for sim in sims:
            sim.push.wait_idle(timeout=15)
        drained = deployment.drain(PULL_WORKER)
        jobs += drained.succeeded
        if drained.received == 0:
            return jobs
    raise AssertionError("the pull worker did not settle")


def blocks(integration_id: str) -> list[BusyBlock]:
    return sorted((stored.block for stored in busy.of_integration(integration_id)), key=lambda b: b.start)


def spans(integration_id: str) -> list[tuple[dt.datetime, dt.datetime]]:
    return [(block.start, block.end) for block in blocks(integration_id)]


@dataclass
class Outbound:
    """A queue subscribed (by a rule on the calsync bus) to calsync's outbound events of one tenant."""

    stack: LocalStack
    url: str

    @classmethod
    def listen(cls, stack: LocalStack, tenant_id: str, detail_types: Iterable[str] = OUTBOUND) -> Outbound:
        name = f"out-{uuid.uuid4().hex[:12]}"
        queue = stack.create_queue_pair(name, f"{name}-dlq")
        bus = stack.client("events")
        bus_name = stack.resources.event_bus_name
        bus.put_rule(Name=name, EventBusName=bus_name, EventPattern=json.dumps({
            "source": ["calsync"], "detail-type": list(detail_types), "detail": {"tenant_id": [tenant_id]}}))
        bus.put_targets(Rule=name, EventBusName=bus_name, Targets=[{"Id": "q", "Arn": queue.arn}])
        return cls(stack, queue.url)

    def take(self) -> list[dict[str, Any]]:
        """Every event received since the last call (envelopes: ``detail-type`` and ``detail``)."""
        sqs = self.stack.client("sqs")
        found: list[dict[str, Any]] = []
        while messages := sqs.receive_message(QueueUrl=self.url, MaxNumberOfMessages=10).get("Messages", []):
            for message in messages:
                found.append(json.loads(message["Body"]))
                sqs.delete_message(QueueUrl=self.url, ReceiptHandle=message["ReceiptHandle"])
        return found

    def of(self, detail_type: str) -> list[dict[str, Any]]:
        return [event["detail"] for event in self.take() if event["detail-type"] == detail_type]


def send_changes(deployment: Deployment, *changes: Any) -> None:
    """``Appointment Changed`` events through the real path: bus → rule → queue → on_appointment_change."""
    entries = [{"Source": EHR_SOURCE, "DetailType": "Appointment Changed",
                "Detail": change.model_dump_json(exclude_none=True),
                "EventBusName": deployment.stack.resources.event_bus_name} for change in changes]
    events = deployment.stack.client("events")
    for offset in range(0, len(entries), 10):
        assert events.put_events(Entries=entries[offset:offset + 10])["FailedEntryCount"] == 0  # type: ignore[arg-type]
    deployment.drain()


def conforms(detail_type: str, detail: dict[str, Any]) -> None:
    """The published event validates against its JSON Schema in ``schemas/``."""
    import jsonschema

    from calsync.cli.schema import SCHEMAS
    from calsync.domain.outbound import PUBLISHED

    schema = json.loads((SCHEMAS / PUBLISHED[detail_type][0]).read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker()).validate(detail)


class EmptyAnswers:
    """A reader whose provider has a bad moment: it no longer knows the sync position and then answers a
    full read with nothing at all (an outage half-answered, a calendar swapped); everything else passes."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.name = inner.name

    def changes(self, calendar: str, cursor: str | None, window: Any) -> Any:
        from calsync.core.errors import ProviderSyncStateLostError
        from calsync.providers.inbound import Changes

        if cursor is not None:
            raise ProviderSyncStateLostError(self.name, "full_sync_required", 410)
        return Changes(complete=True)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)
