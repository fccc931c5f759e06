"""ICS feeds served like static files: for 2,000, 10,000 and 20,000 events, the first request of a version
(the window read page by page, joined, gzipped, both codings stored in S3) against every later request of
that version (the stored copy, the window not read again); a client that does not ask for gzip; the 304
path; and what one feed change costs in DynamoDB capacity. Baseline, same run: the first request, which is
what every request cost before bodies were cached.

Goals: a request without a conditional header reads no window; a 20,000-event feed reaches a client that
does not ask for gzip correctly (a redirect to the stored copy: no Lambda response over its 6 MB limit).

    make bench   (or: PYTHONPATH=layers/common:. unshare --net bash -c 'ip link set lo up &&
                  .venv/bin/python -m bench.feed_render')
"""

from __future__ import annotations

import collections
import datetime as dt
import functools
import gzip
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from devstack.deployment import Deployment, DeploymentPorts
from devstack.stack import apply_env, stack_env

PORTS = DeploymentPorts.pick()
apply_env(stack_env(PORTS.stack))

import httpx  # noqa: E402
from pynamodb.connection.base import Connection  # noqa: E402

from bench.figures import goal, machine  # noqa: E402
from calsync.domain.event import EventKey  # noqa: E402
from calsync.domain.feed import FeedState  # noqa: E402
from calsync.domain.model import Integration, Provider, SyncWindow  # noqa: E402
from calsync.domain.privacy import render  # noqa: E402
from calsync.feed import cache, document, serve  # noqa: E402
from calsync.feed.target import IcsFeedProvider  # noqa: E402
from calsync.services import feeds as management  # noqa: E402
from devstack.local_api import LocalApi  # noqa: E402
from tests.support.appointments import appointment  # noqa: E402
from tests.support.feeds import SEED_PRIVACY, SEED_ZONES, seed_feed, seeded_vevents  # noqa: E402

SIZES = (2_000, 10_000, 20_000)
RUNS = 9


def timed(action: Callable[[], Any], runs: int = RUNS) -> tuple[float, float]:
    """Best and median wall time in ms over ``runs`` (after one warm-up)."""
    action()
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        samples.append((time.perf_counter() - started) * 1000)
    return min(samples), statistics.median(samples)


def pure_render(now: dt.datetime) -> None:
    print("\nrender (join of stored VEVENTs; header cached after its first build)")
    state = FeedState("feed_bench", "tenant-bench", "Dr Bench", 30, 900, 1, now, frozenset(SEED_ZONES))
    window = document.Window.of(state, now)
    started = time.perf_counter()
    head = document.header(state, window)
    print(f"  first header build in a container (2 VTIMEZONEs): {(time.perf_counter() - started) * 1000:.1f} ms")
    for count in SIZES:
        stored = [text for _, _, text in seeded_vevents("feed_bench", "tenant-bench", count, now)]
        best, median = timed(functools.partial(document.assemble, head, stored), runs=5)
        body = document.assemble(head, stored)
        zipped = gzip.compress(body, compresslevel=cache.GZIP_LEVEL, mtime=0)
        print(f"  {count:>6} events: join best {best:6.1f} ms, median {median:6.1f} ms; {len(body) / 1e6:5.2f} MB, "
              f"gzip {len(zipped) / 1e6:5.2f} MB ({cache.gzip_wire_size(len(zipped)) / 1e6:4.2f} MB as base64)")


@contextmanager
def counting() -> Iterator[dict[str, float]]:
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


def handler_path(deployment: Deployment, now: dt.datetime) -> None:
    server: LocalApi = deployment.api
    print("\nthe feed function on DynamoDB Local and S3 (moto), routed by the local HTTP API; ms, best/median")
    print(f"  {'events':>6s}  {'first request of a version':>27s}  {'later, gzip':>14s}  {'later, plain':>26s}"
          f"  {'304':>11s}  {'window reads later':>18s}")
    gzip_headers = {"Accept-Encoding": "gzip"}
    for count in SIZES:
        feed, issued = management.create_feed(f"bench-{count}", "dr-bench", privacy=SEED_PRIVACY, backfill=False,
                                              window=SyncWindow(past_days=30, future_days=900))
        seed_feed(deployment.stack, feed, count, now)
        path = f"/feeds/{issued.token}.ics"

        def first_request(feed: Integration = feed, path: str = path) -> None:
            IcsFeedProvider(feed)._touch(dt.datetime.now(dt.UTC), SEED_ZONES[0])  # a change: a new version
            status, _, _ = server.invoke("GET", path, gzip_headers)
            assert status == 200

        first = timed(first_request, runs=3)
        status, headers, wire = server.invoke("GET", path, gzip_headers)
        body = gzip.decompress(wire)
        assert status == 200 and body.count(b"BEGIN:VEVENT") == count
        with counting() as tally:
            later = timed(functools.partial(server.invoke, "GET", path, gzip_headers))
        window_reads = tally.get("Query", 0)
        plain_status, _, plain_wire = server.invoke("GET", path, {})
        if plain_status == 302:
            def plain_client(path: str = path) -> bytes:
                answer = server.invoke("GET", path, {})
                return httpx.get(answer[1]["Location"], timeout=60).content

            plain_body = plain_client()
            plain = timed(plain_client, runs=3)
            how = f"302+S3 {plain[0]:5.0f}/{plain[1]:5.0f}"
        else:
            plain_body, plain = plain_wire, timed(functools.partial(server.invoke, "GET", path, {}))
            how = f"200 {plain[0]:9.0f}/{plain[1]:5.0f}"
        assert plain_body == body, "the plain client got another document"
        etag = headers["ETag"]
        not_modified = timed(functools.partial(server.invoke, "GET", path, {"If-None-Match": etag}))
        assert server.invoke("GET", path, {"If-None-Match": etag})[0] == 304
        print(f"  {count:>6}  {first[0]:13.0f}/{first[1]:5.0f} ms  {later[0]:7.0f}/{later[1]:5.0f}  {how:>26s}"
              f"  {not_modified[0]:5.1f}/{not_modified[1]:5.1f}  {window_reads:18.0f}")
        ratio = later[1] / first[1]
        goal(f"feed of {count:,} events, a request without a validator", f"{later[1]:.0f} ms median, "
             f"{window_reads:.0f} window queries", f"first request of the version {first[1]:.0f} ms", ratio,
             "no window read", window_reads == 0)
        if count >= 10_000:  # the sizes over Lambda's limit uncompressed
            fits = len(plain_wire) <= cache.MAX_RESPONSE_BYTES
            goal(f"feed of {count:,} events to a client without gzip",
                 f"{plain_status} then {len(plain_body) / 1e6:.1f} MB from S3" if plain_status == 302
                 else f"{plain_status}, {len(plain_body) / 1e6:.1f} MB inline", "Lambda's 6 MB response limit",
                 len(plain_body) / 6e6, "served correctly, no response over the limit",
                 plain_body == body and fits and plain_status in (200, 302))


def change_cost(now: dt.datetime) -> None:
    print("\none feed change through the ICS provider (DynamoDB Local's consumed capacity)")
    feed = Integration(integration_id="feed_cost", tenant_id="bench-cost", practitioner_id="dr-1",
                       provider=Provider.ICS, calendar_id="feed_cost", privacy=SEED_PRIVACY)
    provider = IcsFeedProvider(feed)
    booked = appointment(tenant_id="bench-cost", start=(now + dt.timedelta(days=2)).isoformat(),
                         end=(now + dt.timedelta(days=2, minutes=50)).isoformat())
    event = render(booked, SEED_PRIVACY)
    assert event is not None
    key = EventKey("feed_cost", "bench-cost", "apt-1")
    written = provider.upsert(key, event, None)
    with counting() as tally:
        written = provider.upsert(key, event, written)
    print("  upsert: " + ", ".join(f"{k} {v:g}" for k, v in sorted(tally.items())))
    with counting() as tally:
        provider.delete(key, written)
    print("  delete: " + ", ".join(f"{k} {v:g}" for k, v in sorted(tally.items())))


def main() -> None:
    print(f"machine: {machine()}")
    # one URL asked hundreds of times: its allowance (20 in 5 minutes) would answer 429; counting it is the
    # same one write either way
    serve.REQUESTS_PER_WINDOW = 1_000_000
    now = dt.datetime.now(dt.UTC)
    pure_render(now)
    with Deployment(PORTS, simulators=False).start(workers=False) as deployment:
        handler_path(deployment, now)
        change_cost(now)


if __name__ == "__main__":
    main()
