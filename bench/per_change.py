"""DynamoDB and CalDAV calls (and DynamoDB capacity units) per change, measured on the local stack:
DynamoDB Local reports the capacity each request consumed; Radicale is the calendar.

    make bench   (or: PYTHONPATH=layers/common:. unshare --net bash -c 'ip link set lo up &&
                  .venv/bin/python -m bench.per_change')
"""

from __future__ import annotations

import collections
import datetime as dt
import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, cast

from devstack.stack import LocalStack, StackPorts, apply_env, stack_env

PORTS = StackPorts.pick()
apply_env(stack_env(PORTS))

import httpx  # noqa: E402
from pynamodb.connection.base import Connection  # noqa: E402

from calsync.domain.contract import AppointmentChanged, parse_detail  # noqa: E402
from calsync.domain.model import Integration, Provider  # noqa: E402
from calsync.providers.caldav import CalDavProvider  # noqa: E402
from calsync.services import engine, writers  # noqa: E402
from devstack import sample_day  # noqa: E402
from devstack.clinicians import connect_caldav  # noqa: E402


class Tally:
    def __init__(self) -> None:
        self.dynamodb: collections.Counter[str] = collections.Counter()
        self.capacity: dict[str, float] = collections.defaultdict(float)
        self.caldav: collections.Counter[str] = collections.Counter()

    def reset(self) -> None:
        self.__init__()  # type: ignore[misc]


TALLY = Tally()


@contextmanager
def counting() -> Iterator[None]:
    original = Connection._make_api_call

    def counted(self: Connection, operation: str, kwargs: dict[str, Any]) -> dict[str, Any]:
        TALLY.dynamodb[operation] += 1
        kwargs = {**kwargs, "ReturnConsumedCapacity": "TOTAL"}
        response = original(self, operation, kwargs)
        consumed = response.get("ConsumedCapacity")
        for entry in consumed if isinstance(consumed, list) else [consumed] if consumed else []:
            TALLY.capacity[operation] += float(entry.get("CapacityUnits", 0))
        return response

    def caldav_factory(integration: Integration) -> CalDavProvider:
        provider = cast(CalDavProvider, writers.build(integration))
        client, _ = provider.session._http()  # the real (shared) client, with a counting hook added

        def hook(request: httpx.Request) -> None:
            TALLY.caldav[request.method] += 1

        client.event_hooks["request"].append(hook)
        return provider

    Connection._make_api_call = counted  # type: ignore[method-assign,assignment]
    writers.override(Provider.CALDAV, caldav_factory)
    try:
        yield
    finally:
        Connection._make_api_call = original  # type: ignore[method-assign]
        writers.override(Provider.CALDAV, None)


def measure(label: str, action: Callable[[], object]) -> None:
    TALLY.reset()
    started = time.perf_counter()
    action()
    elapsed = (time.perf_counter() - started) * 1000
    dynamo = ", ".join(f"{op} {n}×/{TALLY.capacity[op]:.1f}u" for op, n in sorted(TALLY.dynamodb.items()))
    caldav = ", ".join(f"{m} {n}" for m, n in sorted(TALLY.caldav.items())) or "none"
    units = sum(TALLY.capacity.values())
    print(f"{label:34s} DynamoDB {sum(TALLY.dynamodb.values()):2d} calls ({dynamo}); {units:4.1f} capacity units"
          f" | CalDAV {sum(TALLY.caldav.values())} ({caldav}) | {elapsed:5.0f} ms")


def main() -> None:
    with LocalStack(ports=PORTS) as stack:
        stack.create_resources()
        tenant = "bench-tenant"
        connect_caldav(stack, tenant_id=tenant, practitioner_id=sample_day.OKAFOR,
                       privacy=sample_day.PRIVACY[sample_day.OKAFOR], username="bench")
        details = [json.loads(e["Detail"]) for e in sample_day.changes(tenant)]
        create = parse_detail(details[1])  # apt-102 v1
        reschedule = parse_detail(details[7])  # apt-102 v3 (delivered before v2)
        stale = parse_detail(details[8])  # apt-102 v2
        cancel = parse_detail({**details[7], "status": "cancelled", "version": 4,
                               "updated_at": dt.datetime.now(dt.UTC).isoformat()})  # newest: the EHR's clock
        other = parse_detail(details[2])

        def apply(appointment: AppointmentChanged) -> Callable[[], object]:
            return lambda: engine.handle_change(appointment)

        with counting():
            engine.handle_change(other)  # warm: first use of the provider, secret read, connections
            print("per change, one CalDAV integration subscribed (warm process):")
            measure("create", apply(create))
            measure("repeat of the same change", apply(create))
            measure("reschedule", apply(reschedule))
            measure("stale (older) change", apply(stale))
            measure("cancel", apply(cancel))
            measure("repeat of the cancel", apply(cancel))


if __name__ == "__main__":
    main()
