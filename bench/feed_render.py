"""ICS feed figures: render time and size for 2,000 and 10,000 events, the full handler path on DynamoDB
Local, the 304 path, and the DynamoDB capacity one feed change costs. Budget: 2,000
events rendered in ≤ 50 ms; a 304 answered without rendering.

    make bench   (or: PYTHONPATH=layers/common:. unshare --net bash -c 'ip link set lo up &&
                  .venv/bin/python -m bench.feed_render')

"Render" is what a request does after its reads: join the stored VEVENTs between the header and the
footer (the VEVENTs themselves were rendered when their appointments changed). "Handler" is the whole
request through the real Lambda handler: token GetItem, feed-state GetItem, the window query on DynamoDB
Local, the join, and gzip when asked.
"""

from __future__ import annotations

import collections
import datetime as dt
import functools
import gzip
import os
import platform
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from devstack.deployment import Deployment, DeploymentPorts
from devstack.stack import LocalStack, apply_env, stack_env

PORTS = DeploymentPorts.pick()
apply_env(stack_env(PORTS.stack))

from pynamodb.connection.base import Connection  # noqa: E402

from calsync.core.settings import get_settings  # noqa: E402
from calsync.domain.contract import appointment_key  # noqa: E402
from calsync.domain.event import EventKey  # noqa: E402
from calsync.domain.feed import FeedState  # noqa: E402
from calsync.domain.model import ClientDisplay, Integration, PrivacySettings, Provider, SyncWindow  # noqa: E402
from calsync.domain.privacy import render  # noqa: E402
from calsync.feed import document  # noqa: E402
from calsync.feed.target import IcsFeedProvider  # noqa: E402
from calsync.formats import ical  # noqa: E402
from calsync.services import feeds as management  # noqa: E402
from calsync.store.appointments import utc_key  # noqa: E402
from devstack.local_api import LocalApi  # noqa: E402
from tests.support.appointments import appointment  # noqa: E402

SIZES = (2_000, 10_000)
RUNS = 15
PRIVACY = PrivacySettings(client_display=ClientDisplay.INITIALS, show_visit_type=True, show_notes=True)
ZONES = ("America/New_York", "America/Chicago")


def machine() -> str:
    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as info:
            cpu = next((line.split(":", 1)[1].strip() for line in info if line.startswith("model name")), cpu)
    except OSError:
        pass
    load = os.getloadavg()[0]
    return (f"{os.cpu_count()} cores ({cpu}), Python {platform.python_version()}, "
            f"load average {load:.2f} at start")


def timed(action: Callable[[], Any], runs: int = RUNS) -> tuple[float, float]:
    """Best and median wall time in ms over ``runs`` (after one warm-up)."""
    action()
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        samples.append((time.perf_counter() - started) * 1000)
    return min(samples), statistics.median(samples)


def vevents(count: int, feed_id: str, tenant_id: str, now: dt.datetime) -> Iterator[tuple[str, str, str]]:
    """(appointment key, start key, VEVENT) for ``count`` realistic appointments over the next year."""
    for n in range(count):
        start = (now + dt.timedelta(minutes=53 * n + 60 * 24)).replace(second=0, microsecond=0)
        booked = appointment(tenant_id=tenant_id, appointment_id=f"apt-{n}", start=start.isoformat(),
                             end=(start + dt.timedelta(minutes=50)).isoformat(), timezone=ZONES[n % 2],
                             notes=f"Follow-up {n}: review plan, adjust dose, schedule labs.")
        event = render(booked, PRIVACY)
        assert event is not None
        text: str = ical.build_vevent(EventKey(feed_id, tenant_id, f"apt-{n}"), event, now).to_ical().decode()
        yield appointment_key(tenant_id, f"apt-{n}"), utc_key(booked.start), text


def join(state: FeedState, window: document.Window, stored: list[str]) -> bytes:
    return document.assemble(document.header(state, window), stored)


def pure_render(now: dt.datetime) -> None:
    print("\nrender (join of stored VEVENTs; header cached after its first build)")
    state = FeedState("feed_bench", "tenant-bench", "Dr Bench", 30, 365, 1, now, frozenset(ZONES))
    window = document.Window.of(state, now)
    started = time.perf_counter()
    head = document.header(state, window)
    first_header = (time.perf_counter() - started) * 1000
    print(f"  first header build in a container (icalendar import + 2 VTIMEZONEs): {first_header:.1f} ms")
    for count in SIZES:
        stored = [text for _, _, text in vevents(count, "feed_bench", "tenant-bench", now)]
        best, median = timed(functools.partial(join, state, window, stored))
        body = document.assemble(head, stored)
        zipped = gzip.compress(body, compresslevel=6, mtime=0)
        gz_best, gz_median = timed(functools.partial(gzip.compress, body, compresslevel=6, mtime=0), runs=5)
        print(f"  {count:>6} events: render best {best:6.1f} ms, median {median:6.1f} ms;"
              f" {len(body) / 1e6:5.2f} MB, gzip {len(zipped) / 1e6:5.2f} MB in {gz_median:6.1f} ms"
              f" (best {gz_best:.1f})")


@contextmanager
def counting_capacity() -> Iterator[dict[str, float]]:
    tally: dict[str, float] = collections.defaultdict(float)
    original = Connection._make_api_call

    def counted(self: Connection, operation: str, kwargs: dict[Any, Any]) -> dict[Any, Any]:
        response = original(self, operation, {**kwargs, "ReturnConsumedCapacity": "TOTAL"})
        consumed = response.get("ConsumedCapacity")
        tally[operation] += 1
        for entry in consumed if isinstance(consumed, list) else [consumed] if consumed else []:
            tally[f"{operation} CU"] += float(entry.get("CapacityUnits", 0))
        return response

    Connection._make_api_call = counted  # type: ignore[method-assign,assignment]
    try:
        yield tally
    finally:
        Connection._make_api_call = original  # type: ignore[method-assign]


def seed(stack: LocalStack, feed_id: str, tenant_id: str, count: int, now: dt.datetime) -> None:
    """Writes ``count`` VEVENTs straight into the table (25 per BatchWriteItem) and bumps the feed state."""
    client, table = stack.client("dynamodb"), get_settings().feed_events_table
    batch: list[Any] = []
    for key, start, text in vevents(count, feed_id, tenant_id, now):
        item = {"feed_id": {"S": feed_id}, "appointment_key": {"S": key}, "start_utc": {"S": start},
                "vevent": {"S": text}, "sequence": {"N": "1"}}
        batch.append({"PutRequest": {"Item": item}})
        if len(batch) == 25:
            client.batch_write_item(RequestItems={table: batch})
            batch = []
    if batch:
        client.batch_write_item(RequestItems={table: batch})


def handler_path(stack: LocalStack, server: LocalApi, now: dt.datetime) -> None:
    print("\nhandler (real Lambda handler on DynamoDB Local, in-process, routed by the local HTTP API)")
    for count in SIZES:
        tenant_id = f"bench-{count}"
        feed, issued = management.create_feed(tenant_id, "dr-bench", privacy=PRIVACY, backfill=False,
                                              window=SyncWindow(past_days=30, future_days=400))
        seed(stack, feed.integration_id, tenant_id, count, now)
        IcsFeedProvider(feed)._touch(now, ZONES[0])  # the state a real change leaves (zones, version)
        IcsFeedProvider(feed)._touch(now, ZONES[1])
        path = f"/feeds/{issued.token}.ics"
        status, headers, body = server.invoke("GET", path, {"Accept-Encoding": "gzip"})
        assert status == 200 and gzip.decompress(body).count(b"BEGIN:VEVENT") == count, status
        zipped = timed(functools.partial(server.invoke, "GET", path, {"Accept-Encoding": "gzip"}), runs=5)
        plain_status = server.invoke("GET", path, {})[0]
        if plain_status == 200:
            best, median = timed(functools.partial(server.invoke, "GET", path, {}), runs=5)
            plain = f"200 best {best:6.0f} ms (median {median:6.0f})"
        else:
            plain = f"{plain_status} without gzip (over one Lambda response)"
        etag = headers["ETag"]
        with counting_capacity() as tally:
            not_modified = timed(functools.partial(server.invoke, "GET", path, {"If-None-Match": etag}))
        assert server.invoke("GET", path, {"If-None-Match": etag})[0] == 304
        reads = {k: v / (RUNS + 1) for k, v in tally.items()}
        print(f"  {count:>6} events: gzip 200 best {zipped[0]:6.0f} ms (median {zipped[1]:6.0f}), {plain};"
              f" 304 best {not_modified[0]:5.1f} ms (median {not_modified[1]:5.1f}),"
              f" {reads.get('GetItem', 0):.0f} GetItem/{reads.get('GetItem CU', 0):.1f} RCU, "
              f"{reads.get('Query', 0):.0f} Query")


def change_cost(now: dt.datetime) -> None:
    print("\none feed change through the ICS provider (DynamoDB Local's consumed capacity)")
    feed = Integration(integration_id="feed_cost", tenant_id="bench-cost", practitioner_id="dr-1",
                       provider=Provider.ICS, calendar_id="feed_cost", privacy=PRIVACY)
    provider = IcsFeedProvider(feed)
    booked = appointment(tenant_id="bench-cost", start=(now + dt.timedelta(days=2)).isoformat(),
                         end=(now + dt.timedelta(days=2, minutes=50)).isoformat())
    event = render(booked, PRIVACY)
    assert event is not None
    key = EventKey("feed_cost", "bench-cost", "apt-1")
    written = provider.upsert(key, event, None)
    with counting_capacity() as tally:
        written = provider.upsert(key, event, written)
    print("  upsert: " + ", ".join(f"{k} {v:g}" for k, v in sorted(tally.items())))
    with counting_capacity() as tally:
        provider.delete(key, written)
    print("  delete: " + ", ".join(f"{k} {v:g}" for k, v in sorted(tally.items())))


def main() -> None:
    print(f"machine: {machine()}")
    now = dt.datetime.now(dt.UTC)
    pure_render(now)
    with Deployment(PORTS, simulators=False).start(workers=False) as deployment:
        handler_path(deployment.stack, deployment.api, now)
        change_cost(now)


if __name__ == "__main__":
    main()
