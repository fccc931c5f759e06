"""Two-way sync figures, on the whole local deployment (webhook route, pull queue and its worker polling as
deployed, DynamoDB Local, the Google and Graph simulators, Radicale):

1. provider calls, DynamoDB calls and capacity units per notification (Google, Graph) and per CalDAV poll,
   beside the same figures for one EHR change in the same run (the baseline);
2. latency from a clinician's edit in the Google simulator to ``External Busy Time Changed`` on the bus
   (p50/p99), beside the latency of an EHR change to the event in that calendar (the push path, same run);
3. the availability query for a month of a busy clinician (three calendars, ten blocks a day), through the
   service and through the signed HTTP route, beside one GetItem on the same DynamoDB Local.

Figures are printed, never asserted.

    PYTHONPATH=layers/common:. unshare --net bash -c 'ip link set lo up && .venv/bin/python -m bench.twoway'
"""

from __future__ import annotations

import argparse
import collections
import datetime as dt
import json
import statistics
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from zoneinfo import ZoneInfo

from devstack.deployment import Deployment, DeploymentPorts
from devstack.stack import EHR_SOURCE, apply_env, stack_env

PORTS = DeploymentPorts.pick()
apply_env(stack_env(PORTS.stack))

import httpx  # noqa: E402
from botocore.auth import SigV4Auth  # noqa: E402
from botocore.awsrequest import AWSRequest  # noqa: E402
from botocore.credentials import Credentials  # noqa: E402
from pynamodb.connection.base import Connection  # noqa: E402

from calsync.domain.busy import BusyBlock, BusyStatus  # noqa: E402
from calsync.domain.contract import parse_detail  # noqa: E402
from calsync.domain.event import EventKey  # noqa: E402
from calsync.domain.model import Direction, PrivacySettings  # noqa: E402
from calsync.services import sweeper  # noqa: E402
from calsync.services.twoway import availability, conflicts, pull, watching  # noqa: E402
from calsync.store import busy, integrations  # noqa: E402
from devstack.clinicians import connect_caldav  # noqa: E402
from devstack.oauth_clinicians import connect_google, connect_microsoft  # noqa: E402

ZONE = ZoneInfo("America/New_York")
PRIVACY = PrivacySettings()


class Tally:
    def __init__(self) -> None:
        self.dynamodb: collections.Counter[str] = collections.Counter()
        self.capacity: dict[str, float] = collections.defaultdict(float)
        self.http: collections.Counter[str] = collections.Counter()


TALLY = Tally()


@contextmanager
def counting() -> Iterator[None]:
    """Counts DynamoDB calls (with the capacity DynamoDB Local reports) and CalDAV requests, in-process."""
    original = Connection._make_api_call

    def counted(self: Connection, operation: str, kwargs: dict[str, Any]) -> dict[str, Any]:
        TALLY.dynamodb[operation] += 1
        response = original(self, operation, {**kwargs, "ReturnConsumedCapacity": "TOTAL"})
        consumed = response.get("ConsumedCapacity")
        for entry in consumed if isinstance(consumed, list) else [consumed] if consumed else []:
            TALLY.capacity[operation] += float(entry.get("CapacityUnits", 0))
        return response

    send = httpx.Client.send

    def sent(self: httpx.Client, request: httpx.Request, **kwargs: Any) -> httpx.Response:
        if request.url.port == PORTS.radicale:
            TALLY.http[request.method] += 1
        return send(self, request, **kwargs)

    Connection._make_api_call = counted  # type: ignore[method-assign,assignment]
    httpx.Client.send = sent  # type: ignore[method-assign]
    try:
        yield
    finally:
        Connection._make_api_call = original  # type: ignore[method-assign]
        httpx.Client.send = send  # type: ignore[method-assign]


def wait_for(check: Callable[[], bool], seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError("the deployment did not get there")
        time.sleep(0.005)


def at(hour: int, minute: int = 0, days: int = 1) -> dt.datetime:
    return dt.datetime.combine((dt.datetime.now(ZONE) + dt.timedelta(days=days)).date(), dt.time(hour, minute), ZONE)


def quiet(deployment: Deployment) -> None:
    """Waits until nothing is on its way: the change queue, the simulators' notifications, the pull queue."""
    changes, pulls_queue = deployment.source(), deployment.source("PullWorkerFunction")
    for _ in range(2):
        wait_for(changes.is_empty)
        for sim in deployment.simulators.values():
            sim.push.wait_idle(timeout=20)
        wait_for(pulls_queue.is_empty)


def measure(label: str, sim_calls: Callable[[], int], action: Callable[[], object]) -> None:
    TALLY.__init__()  # type: ignore[misc]
    before = sim_calls()
    started = time.perf_counter()
    action()
    elapsed = (time.perf_counter() - started) * 1000
    calls = sim_calls() - before
    dynamo = ", ".join(f"{op} {n}" for op, n in sorted(TALLY.dynamodb.items()))
    units = sum(TALLY.capacity.values())
    print(f"  {label:44s} provider {calls:2d} | DynamoDB {sum(TALLY.dynamodb.values()):2d} calls, "
          f"{units:5.1f} units ({dynamo}) | {elapsed:5.0f} ms")


def change(tenant: str, practitioner: str, appointment: str, version: int, hour: int) -> dict[str, Any]:
    start = at(hour)
    return {"schema_version": 1, "tenant_id": tenant, "appointment_id": appointment,
            "updated_at": (dt.datetime.now(dt.UTC) + dt.timedelta(seconds=version)).isoformat(), "version": version,
            "status": "scheduled", "start": start.isoformat(), "end": (start + dt.timedelta(minutes=45)).isoformat(),
            "timezone": ZONE.key, "practitioner_id": practitioner, "practice": {"id": "p", "name": "Practice"},
            "client": {"id": "c-1", "internal_id": "A-1"}}


def put_change(deployment: Deployment, detail: dict[str, Any]) -> None:
    bus = deployment.stack.resources.event_bus_name
    deployment.stack.client("events").put_events(Entries=[{
        "Source": EHR_SOURCE, "DetailType": "Appointment Changed", "Detail": json.dumps(detail), "EventBusName": bus}])


def per_notification(deployment: Deployment, tenant: str) -> None:
    google, graph = deployment.google, deployment.microsoft
    assert google is not None and graph is not None
    google.channels.allow_http_loopback = graph.subscriptions.allow_http_loopback = True
    g = connect_google(deployment.stack, google, tenant_id=tenant, practitioner_id="dr-g", privacy=PRIVACY,
                       direction=Direction.TWO_WAY)
    m = connect_microsoft(deployment.stack, graph, tenant_id=tenant, practitioner_id="dr-m", privacy=PRIVACY,
                          direction=Direction.TWO_WAY)
    c = connect_caldav(deployment.stack, tenant_id=tenant, practitioner_id="dr-c", privacy=PRIVACY,
                       username=f"bench-{tenant}", direction=Direction.TWO_WAY)
    for clinician in (g.integration, m.integration, c.integration):
        stored = integrations.get(clinician.integration_id)
        assert stored is not None
        watching.start_watching(stored)
    quiet(deployment)
    google_calls = lambda: len(google.api_requests())  # noqa: E731
    graph_calls = lambda: len(graph.api_requests())  # noqa: E731
    print("per notification and per poll (warm processes; the pull worker polls its queue as deployed):")
    with counting():
        for label, sim_calls, create in (
                ("Google", google_calls, lambda s, e: google.create_event(g.user, s, e, "Busy")),
                ("Graph", graph_calls, lambda s, e: graph.create_event(
                    m.user, s, e, "Busy", calendar=m.integration.calendar_id))):
            def notified(hour: int, create: Any = create) -> None:
                create(at(hour), at(hour, 30))
                quiet(deployment)

            notified(6)  # warm
            measure(f"{label}: a personal event created (notification)", sim_calls, lambda: notified(7))

            def burst(create: Any = create, sim: Any = google if label == "Google" else graph) -> None:
                sim.push.hold()
                for hour in range(8, 13):
                    create(at(hour), at(hour, 30))
                sim.push.release()
                quiet(deployment)

            measure(f"{label}: a burst of 5 notifications", sim_calls, burst)
            practitioner = "dr-g" if label == "Google" else "dr-m"

            def ehr(practitioner: str = practitioner) -> None:
                put_change(deployment, change(tenant, practitioner, f"apt-{uuid.uuid4().hex[:6]}", 1, 14))
                quiet(deployment)

            measure(f"{label}: an EHR change and its own echo (baseline)", sim_calls, ehr)

        def poll(create: bool) -> None:
            if create:
                body = ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//b//EN\r\nBEGIN:VEVENT\r\nUID:" + uuid.uuid4().hex
                        + "\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:" + at(9).astimezone(dt.UTC).strftime(
                            "%Y%m%dT%H%M%SZ") + "\r\nDTEND:" + at(10).astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
                        + "\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")
                httpx.put(f"{c.calendar_url}{uuid.uuid4().hex}.ics", content=body, auth=(c.username, c.password))
            pull.pull(c.integration.integration_id)

        caldav_calls = lambda: int(sum(TALLY.http.values()))  # noqa: E731
        measure("CalDAV: a poll, nothing changed", caldav_calls, lambda: poll(False))
        measure("CalDAV: a poll, one event changed", caldav_calls, lambda: poll(True))
        unwatched = parse_detail(change(tenant, "dr-nobody-watches", "apt-unwatched", 1, 9))
        watched = parse_detail(change(tenant, "dr-g", "apt-watched", 1, 9))
        measure("conflict check of an EHR change, unwatched clinician", caldav_calls,
                lambda: conflicts.appointment_changed(unwatched))
        measure("conflict check of an EHR change, watched clinician", caldav_calls,
                lambda: conflicts.appointment_changed(watched))
        measure("sweeper: a tick queuing the due pulls (no pull)", caldav_calls,
                lambda: sweeper.run(dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1)))


def summary(label: str, samples: list[float]) -> str:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return (f"  {label:52s} min {ordered[0]:6.1f}  p50 {statistics.median(ordered):6.1f}  p99 {p99:6.1f} ms "
            f"(n={len(ordered)})")


def latency(deployment: Deployment, tenant: str, runs: int) -> None:
    google = deployment.google
    assert google is not None
    clinician = connect_google(deployment.stack, google, tenant_id=tenant, practitioner_id="dr-l", privacy=PRIVACY,
                               direction=Direction.TWO_WAY)
    stored = integrations.get(clinician.integration.integration_id)
    assert stored is not None
    watching.start_watching(stored)
    quiet(deployment)
    sqs, bus = deployment.stack.client("sqs"), deployment.stack.client("events")
    name = f"bench-{uuid.uuid4().hex[:8]}"
    queue = deployment.stack.create_queue_pair(name, f"{name}-dlq")
    bus.put_rule(Name=name, EventBusName=deployment.stack.resources.event_bus_name, EventPattern=json.dumps(
        {"source": ["calsync"], "detail-type": ["External Busy Time Changed"], "detail": {"tenant_id": [tenant]}}))
    bus.put_targets(Rule=name, EventBusName=deployment.stack.resources.event_bus_name,
                    Targets=[{"Id": "q", "Arn": queue.arn}])

    def received() -> bool:
        messages = sqs.receive_message(QueueUrl=queue.url, MaxNumberOfMessages=10).get("Messages", [])
        for message in messages:
            sqs.delete_message(QueueUrl=queue.url, ReceiptHandle=message["ReceiptHandle"])
        return bool(messages)

    edits: list[float] = []
    for run in range(runs + 1):
        started = time.perf_counter()
        google.create_event(clinician.user, at(7 + run % 10, 5 * (run // 10)), at(8 + run % 10), "Busy")
        wait_for(received)
        if run:
            edits.append((time.perf_counter() - started) * 1000)
    pushes: list[float] = []
    for run in range(runs + 1):
        appointment = f"apt-lat-{run}"
        started = time.perf_counter()
        put_change(deployment, change(tenant, "dr-l", appointment, 1, 7 + run % 10))
        event_id = EventKey(clinician.integration.integration_id, tenant, appointment).digest

        def written(event_id: str = event_id) -> bool:
            return any(e["id"] == event_id for e in google.events(clinician.user))

        wait_for(written)
        if run:
            pushes.append((time.perf_counter() - started) * 1000)
    print("latency on the local deployment (queue workers long-polling as deployed):")
    print(summary("clinician edit in Google -> External Busy Time Changed", edits))
    print(summary("baseline: EHR change -> event in the Google calendar", pushes))


def availability_query(deployment: Deployment, tenant: str, runs: int, per_day: int, label: str) -> None:
    """A month of a clinician with ``per_day`` busy blocks a day on each of three calendars."""
    practitioner = f"dr-{label}"
    owner = busy.owner_key(tenant, practitioner)
    month = dt.datetime(2027, 3, 1, tzinfo=dt.UTC)
    count = 0
    for calendar, integration in enumerate(("google", "graph", "caldav")):
        for day in range(-2, 33):
            for slot in range(per_day):
                start = month + dt.timedelta(days=day, hours=7 + slot, minutes=10 * calendar)
                busy.put(f"{tenant}-{label}-{integration}", owner, BusyBlock(
                    block_id=uuid.uuid4().hex, calendar="c", source=f"{integration}-{day}-{slot}", start=start,
                    end=start + dt.timedelta(minutes=40), status=BusyStatus.BUSY), "1#0")
                count += 1
    end = month + dt.timedelta(days=31)
    identity = deployment.identity(tenant)
    url = str(httpx.Request("GET", f"{deployment.api.base_url}/tenants/{tenant}/practitioners/{practitioner}/busy",
                            params={"start": f"{month:%Y-%m-%dT%H:%M:%SZ}", "end": f"{end:%Y-%m-%dT%H:%M:%SZ}"}).url)
    client = httpx.Client(timeout=10)

    def signed() -> dict[str, str]:
        request = AWSRequest(method="GET", url=url)
        SigV4Auth(Credentials(identity.access_key_id, identity.secret_access_key), "execute-api",
                  "us-east-1").add_auth(request)
        return dict(request.headers.items())

    def timed(action: Callable[[], object]) -> list[float]:
        action()
        samples = []
        for _ in range(runs):
            started = time.perf_counter()
            action()
            samples.append((time.perf_counter() - started) * 1000)
        return samples

    intervals = availability.busy_between(tenant, practitioner, month, end)
    dynamodb = deployment.stack.client("dynamodb")
    table = busy.BusyBlockItem.Meta.table_name  # type: ignore[attr-defined]
    print(f"availability for a month of a {label} clinician ({per_day} blocks a day on each of 3 calendars: "
          f"{count} blocks, {len(intervals)} merged intervals in the month):")
    print(summary("service: one query of the by_owner index, merged", timed(
        lambda: availability.busy_between(tenant, practitioner, month, end))))
    print(summary("route: GET .../busy signed (SigV4), local HTTP API", timed(
        lambda: client.get(url, headers=signed()).raise_for_status())))
    print(summary("baseline: one GetItem on the same DynamoDB Local", timed(
        lambda: dynamodb.get_item(TableName=str(table), Key={"integration_id": {"S": "x"}, "slot": {"S": "y"}}))))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    with Deployment(PORTS, schedule_period_seconds=3600) as deployment:
        tenant = f"bench-{uuid.uuid4().hex[:8]}"
        per_notification(deployment, tenant)
        latency(deployment, tenant, args.runs)
        availability_query(deployment, tenant, args.runs, 4, "busy")
        availability_query(deployment, tenant, args.runs, 10, "fully-booked")


if __name__ == "__main__":
    main()
