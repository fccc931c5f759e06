"""The two-way part of ``make demo``: the clinicians' own calendars read back.

* Dr Okafor adds a personal appointment in Google Calendar (the simulator) over one of her EHR appointments:
  the EHR side receives the busy block (``External Busy Time Changed``, no title) and ``Conflict Detected``,
  and the EHR's booking page (the IAM-signed availability route) sees her busy.
* Dr Lindqvist drags a calsync event in Outlook (the Graph simulator): calsync puts it back where the EHR
  has it and says so (``External Edit Reverted``).

Everything goes through the deployment as deployed: the simulators' push notifications to the webhook
route, the pull queue and its worker, the bus. The "EHR side" is a queue subscribed to calsync's bus.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from calsync.services.twoway import watching
from calsync.store import integrations, ledger
from devstack.deployment import Deployment
from devstack.oauth_clinicians import OAuthClinician

PULL_WORKER = "PullWorkerFunction"
OUTBOUND = ("External Busy Time Changed", "Conflict Detected", "Conflict Resolved", "External Edit Reverted")


class EhrSide:
    """A queue subscribed to calsync's outbound events of one tenant: what the EHR receives."""

    def __init__(self, deployment: Deployment, tenant: str) -> None:
        self.stack = deployment.stack
        name = f"ehr-side-{uuid.uuid4().hex[:8]}"
        self.queue = self.stack.create_queue_pair(name, f"{name}-dlq")
        bus, bus_name = self.stack.client("events"), self.stack.resources.event_bus_name
        bus.put_rule(Name=name, EventBusName=bus_name, EventPattern=json.dumps(
            {"source": ["calsync"], "detail-type": list(OUTBOUND), "detail": {"tenant_id": [tenant]}}))
        bus.put_targets(Rule=name, EventBusName=bus_name, Targets=[{"Id": "ehr", "Arn": self.queue.arn}])

    def received(self) -> list[tuple[str, dict[str, Any]]]:
        sqs, found = self.stack.client("sqs"), []
        while messages := sqs.receive_message(QueueUrl=self.queue.url, MaxNumberOfMessages=10).get("Messages", []):
            for message in messages:
                event = json.loads(message["Body"])
                found.append((str(event["detail-type"]), event["detail"]))
                sqs.delete_message(QueueUrl=self.queue.url, ReceiptHandle=message["ReceiptHandle"])
        return found


def start_watching(deployment: Deployment, *clinicians: OAuthClinician) -> None:
    """Push channels on the simulators, then the first full read of each calendar."""
    for sim in deployment.simulators.values():
        for pushes in ("channels", "subscriptions"):  # Google's channels, Graph's subscriptions
            if hasattr(sim, pushes):
                getattr(sim, pushes).allow_http_loopback = True
    for clinician in clinicians:
        stored = integrations.get(clinician.integration.integration_id)
        assert stored is not None
        watching.start_watching(stored)
    settle(deployment)


def settle(deployment: Deployment) -> None:
    """Notifications delivered, the pull worker run on its queue, until both are quiet."""
    for _ in range(8):
        for sim in deployment.simulators.values():
            if hasattr(sim, "push"):  # the calendar simulators (a booking platform pushes nothing here)
                sim.push.wait_idle(timeout=15)
        if deployment.drain(PULL_WORKER).received == 0:
            return


def scene(deployment: Deployment, tenant: str, okafor: OAuthClinician, lindqvist: OAuthClinician, zone: ZoneInfo,
          say: Callable[[str], None], mark: Callable[[bool], str]) -> bool:
    """Runs the two-way scene and prints it; True when everything happened as it should."""
    ehr = EhrSide(deployment, tenant)
    day = (dt.datetime.now(zone) + dt.timedelta(days=1)).date()

    def at(hour: int, minute: int = 0) -> dt.datetime:
        return dt.datetime.combine(day, dt.time(hour, minute), zone)

    google, graph = deployment.google, deployment.microsoft
    assert google is not None and graph is not None
    results: list[bool] = []

    say(f"  Dr Okafor adds a personal appointment in Google Calendar: Dentist {at(11):%H:%M} – {at(12):%H:%M}")
    google.create_event(okafor.user, at(11), at(12), "Dentist", time_zone=zone.key)
    settle(deployment)
    events = ehr.received()
    busy = [d for kind, d in events if kind == "External Busy Time Changed"]
    blocks = [b for d in busy for b in d["blocks"] if not b["deleted"]]
    shown = [(_local(b["busy"]["start"], zone), _local(b["busy"]["end"], zone), b["busy"]["title"]) for b in blocks]
    ok = shown == [("11:00", "12:00", None)] and "Dentist" not in json.dumps(busy)
    results.append(ok)
    say(f"  {mark(ok)} the EHR receives External Busy Time Changed: busy "
        f"{', '.join(f'{s} – {e}' for s, e, _ in shown) or 'nothing'} (no title, no attendees)")
    conflicts = [d for kind, d in events if kind == "Conflict Detected"]
    ok = [(c["appointment_id"], _local(c["appointment"]["start"], zone)) for c in conflicts] == [("apt-102", "10:30")]
    results.append(ok)
    told = [f"{c['appointment_id']} {_local(c['appointment']['start'], zone)} – "
            f"{_local(c['appointment']['end'], zone)} overlaps her busy time {_local(c['busy']['start'], zone)} – "
            f"{_local(c['busy']['end'], zone)}" for c in conflicts]
    say(f"  {mark(ok)} the EHR receives Conflict Detected: {'; '.join(told) or 'none'}")
    answer = availability(deployment, tenant, okafor.integration.practitioner_id, at(0), at(23, 59))
    ok = [(_local(i["start"], zone), _local(i["end"], zone)) for i in answer] == [("11:00", "12:00")]
    results.append(ok)
    say(f"  {mark(ok)} the EHR's booking page asks when she is busy tomorrow (GET .../busy, SigV4): "
        f"{', '.join(_local(i['start'], zone) + ' – ' + _local(i['end'], zone) for i in answer) or 'never'}")

    entry = ledger.get(lindqvist.integration.integration_id, f"{tenant}#apt-202")
    assert entry is not None and entry.external_id is not None
    say(f"  Dr Lindqvist drags her {at(13):%H:%M} calsync event to {at(16):%H:%M} in Outlook")
    graph.move_event(lindqvist.user, entry.external_id, at(16))
    settle(deployment)
    moved = next(e for e in graph.events(lindqvist.user, lindqvist.integration.calendar_id)
                 if e["id"] == _current_id(lindqvist, tenant))
    back = dt.datetime.fromisoformat(moved["start"]["dateTime"]).replace(tzinfo=ZoneInfo(moved["start"]["timeZone"]))
    reverted = [d for kind, d in ehr.received() if kind == "External Edit Reverted"]
    ok = back == at(13) and [(r["appointment_id"], r["edit"]) for r in reverted] == [("apt-202", "moved")]
    results.append(ok)
    say(f"  {mark(ok)} calsync puts it back at {back.astimezone(zone):%H:%M} (the EHR's time) and publishes External "
        f"Edit Reverted ({', '.join(r['edit'] for r in reverted) or 'none'}); nothing goes back into the EHR")
    return all(results)


def _current_id(clinician: OAuthClinician, tenant: str) -> str | None:
    entry = ledger.get(clinician.integration.integration_id, f"{tenant}#apt-202")
    return entry.external_id if entry else None


def _local(value: str, zone: ZoneInfo) -> str:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(zone).strftime("%H:%M")


def availability(deployment: Deployment, tenant: str, practitioner: str, start: dt.datetime,
                 end: dt.datetime) -> list[dict[str, str]]:
    identity = deployment.identity(tenant)
    request = httpx.Request("GET", f"{deployment.api.base_url}/tenants/{tenant}/practitioners/{practitioner}/busy",
                            params={"start": start.isoformat(), "end": end.isoformat()})
    signed = AWSRequest(method="GET", url=str(request.url))
    SigV4Auth(Credentials(identity.access_key_id, identity.secret_access_key), "execute-api",
              "us-east-1").add_auth(signed)
    answer = httpx.get(str(request.url), headers=dict(signed.headers.items()), timeout=10)
    answer.raise_for_status()
    busy: list[dict[str, str]] = answer.json()["busy"]
    return busy

