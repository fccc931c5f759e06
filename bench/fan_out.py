"""One change to 1, 5 and 20 integrations following the clinician: the syncs run side by side
(``calsync.services.fanout``), so 20 should cost at most twice what one does. Measured per kind of calendar
(Google and Graph simulators in a process of their own, Radicale, ICS feeds) and for a practice's mix (5 of
each), through ``engine.handle_change`` on the local stack, each change a reschedule that every calendar must
write. Rounds interleave the three sizes; the baseline is one integration, measured in the same run.

Twice: on loopback as it is, and with each request to a calendar provider answered ``--round-trip-ms`` later
(100 ms by default: the fast end of what Google's, Microsoft's and iCloud's APIs take from an AWS region).
On loopback a provider answers in about a millisecond, so a sync is nothing but CPU (calsync's, DynamoDB
Local's, the server's) and twenty syncs cost twenty times that CPU on however few cores the machine has:
that figure says what the machine can do, not what running side by side saves. With a provider's round trip,
a sync mostly waits, as in production, and twenty waits overlap. The goal is read on the second, except for
CalDAV: the twenty accounts live in one Radicale, which holds one lock over its whole storage for every
write, so its figure is the server's, printed for reference.

    make bench   (or: PYTHONPATH=layers/common:. unshare --net bash -c 'ip link set lo up &&
                  .venv/bin/python -m bench.fan_out [--rounds 9] [--round-trip-ms 100]')
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
from typing import Any

from devstack.stack import LocalStack, StackPorts, apply_env, stack_env

PORTS = StackPorts.pick()
apply_env(stack_env(PORTS))
os.environ["POWERTOOLS_METRICS_DISABLED"] = "true"

from bench.figures import RoundTrip, goal, interleaved, machine, median, timed  # noqa: E402
from bench.remote_sims import remote_simulators  # noqa: E402
from calsync.domain.contract import parse_detail  # noqa: E402
from calsync.domain.model import Integration, PrivacySettings  # noqa: E402
from calsync.services import engine  # noqa: E402
from calsync.services import feeds as management  # noqa: E402
from calsync.store import integrations  # noqa: E402
from devstack.clinicians import connect_caldav  # noqa: E402
from devstack.oauth_clinicians import connect_google, connect_microsoft  # noqa: E402
from tests.support.appointments import detail  # noqa: E402

TENANT = "bench-fanout"
SIZES = (1, 5, 20)
KINDS = ("google", "microsoft", "caldav", "ics", "mixed")
DISTANT = ("google", "microsoft", "caldav", "mixed")
"""The kinds whose calendars are across the internet (a feed is calsync's own table)."""
PRIVACY = PrivacySettings()


def connect(stack: LocalStack, google: Any, graph: Any, kind: str, practitioner: str, n: int) -> Integration:
    """One integration of ``kind`` following ``practitioner`` (each with its own account and secret)."""
    own = f"{practitioner}-{n}"
    if kind == "google":
        made = connect_google(stack, google, tenant_id=TENANT, practitioner_id=own, privacy=PRIVACY).integration
    elif kind == "microsoft":
        made = connect_microsoft(stack, graph, tenant_id=TENANT, practitioner_id=own, privacy=PRIVACY).integration
    elif kind == "caldav":
        made = connect_caldav(stack, tenant_id=TENANT, practitioner_id=own, privacy=PRIVACY,
                              username=f"u-{own}"[:60]).integration
    else:
        made, _ = management.create_feed(TENANT, own, backfill=False)
    following = made.model_copy(update={"practitioner_id": practitioner})
    integrations.put(following)
    return following


class Group:
    """A practitioner and the integrations following them; each :meth:`change` reschedules one appointment."""

    def __init__(self, practitioner: str, members: list[Integration]) -> None:
        self.practitioner, self.members, self.version = practitioner, members, 0

    def change(self) -> float:
        self.version += 1
        day = dt.date.today() + dt.timedelta(days=2 + self.version % 20)
        start = dt.datetime.combine(day, dt.time(9 + self.version % 8, 0), dt.UTC)
        appointment = parse_detail(detail(
            tenant_id=TENANT, appointment_id=f"apt-{self.practitioner}", practitioner_id=self.practitioner,
            version=self.version, updated_at=dt.datetime.now(dt.UTC).isoformat(), start=start.isoformat(),
            end=(start + dt.timedelta(minutes=45)).isoformat(), timezone="UTC"))
        outcomes: dict[str, Any] = {}

        def apply() -> None:
            outcomes.update(engine.handle_change(appointment).outcomes)

        elapsed = timed(apply)
        assert len(outcomes) == len(self.members) and set(outcomes.values()) == {engine.Outcome.WRITTEN}, outcomes
        return elapsed


def measure(groups: dict[int, Group], rounds: int) -> tuple[dict[str, list[float]], float, float]:
    samples = interleaved(rounds, {str(n): groups[n].change for n in SIZES})
    return samples, median(samples["20"]) / median(samples["1"]), min(samples["20"]) / min(samples["1"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--round-trip-ms", type=float, default=100.0)
    args = parser.parse_args()
    print(f"machine: {machine()}")
    delay = RoundTrip()
    with LocalStack(ports=PORTS) as stack, remote_simulators() as (google, graph):
        stack.create_resources()
        groups: dict[str, dict[int, Group]] = {}
        for kind in KINDS:
            groups[kind] = {}
            for size in SIZES:
                practitioner = f"dr-{kind}-{size}"
                kinds = [("google", "microsoft", "caldav", "ics")[n % 4] if kind == "mixed" else kind
                         for n in range(size)]
                members = [connect(stack, google, graph, member_kind, practitioner, n)
                           for n, member_kind in enumerate(kinds)]
                groups[kind][size] = Group(practitioner, members)
                groups[kind][size].change()  # first use: tokens, connections, the first write of each
        header = (f"  {'calendars':10s} " + "".join(f"{f'{n} best':>10s}{f'{n} median':>11s}" for n in SIZES)
                  + f"{'20 vs 1 (median)':>18s}{'(best)':>8s}")
        for label, seconds, kinds_measured in (("on loopback", 0.0, KINDS),
                                               (f"a provider {args.round_trip_ms:.0f} ms away",
                                                args.round_trip_ms / 1000, DISTANT)):
            delay.seconds = seconds
            print(f"\none change, each calendar written, {label} (ms, {args.rounds} interleaved rounds; "
                  "baseline: 1 integration)")
            print(header)
            for kind in kinds_measured:
                samples, ratio, best_ratio = measure(groups[kind], args.rounds)
                print(f"  {kind:10s} " + "".join(f"{min(samples[str(n)]):10.0f}{median(samples[str(n)]):11.0f}"
                                                 for n in SIZES) + f"{ratio:17.2f}×{best_ratio:7.2f}×")
                figure = f"{median(samples['20']):.0f} ms median"
                baseline = f"1 integration {median(samples['1']):.0f} ms"
                if seconds and kind == "caldav":
                    goal(f"one change to 20 integrations ({kind}, {label})", figure, baseline, ratio,
                         "none: one Radicale holds all 20 calendars and writes one at a time", None)
                elif seconds:
                    goal(f"one change to 20 integrations ({kind}, {label})", figure, baseline, ratio, "≤ 2.0×",
                         ratio <= 2.0)
                else:
                    goal(f"one change to 20 integrations ({kind}, {label})", figure, baseline, ratio,
                         f"none: CPU-bound on {os.cpu_count()} cores", None)


if __name__ == "__main__":
    main()
