"""What every benchmark shares: runs interleaved with their same-run baseline (absolute times on these shared
machines drift by half), best and median of each, the ratio, and one ``GOAL`` line per row of the issue's
table, which ``bench.run_all`` gathers into the summary at the end."""

from __future__ import annotations

import os
import platform
import statistics
import time
from collections.abc import Callable, Mapping, Sequence

import httpx

GOAL_MARK = "GOAL\t"


def machine() -> str:
    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as info:
            cpu = next((line.split(":", 1)[1].strip() for line in info if line.startswith("model name")), cpu)
    except OSError:
        pass
    return (f"{os.cpu_count()} cores ({cpu}), Python {platform.python_version()}, "
            f"load average {os.getloadavg()[0]:.2f}")


def timed(action: Callable[[], object]) -> float:
    """Wall time of one call, in ms."""
    started = time.perf_counter()
    action()
    return (time.perf_counter() - started) * 1000


def interleaved(rounds: int, cases: Mapping[str, Callable[[], float]]) -> dict[str, list[float]]:
    """Each case once per round, forwards then backwards in turn, so drift hits every case alike; each
    case returns its own figure (a time, a rate)."""
    samples: dict[str, list[float]] = {name: [] for name in cases}
    names = list(cases)
    for round_number in range(rounds):
        for name in names if round_number % 2 == 0 else reversed(names):
            samples[name].append(cases[name]())
    return samples


def best(values: Sequence[float], *, higher: bool = False) -> float:
    return max(values) if higher else min(values)


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def goal(row: str, figure: str, baseline: str, ratio: float, target: str, met: bool | None) -> None:
    """One row of the summary: what was measured, against what, the ratio, the goal and whether it is met
    (None: a figure shown for reference, with no goal of its own)."""
    verdict = "info" if met is None else "met" if met else "NOT met"
    print(f"{GOAL_MARK}{row}\t{figure}\t{baseline}\t{ratio:.2f}\t{target}\t{verdict}", flush=True)


class RoundTrip:
    """Each HTTP request sent through httpx in this process (calsync's, to a calendar or a token endpoint, and a
    bare writer's) leaves ``seconds`` late: the time a provider across the internet takes to answer, spent
    waiting (the thread sleeps: no CPU, no GIL). On loopback a provider answers in about a millisecond, so
    without it every figure is only CPU, of calsync and of the server, sharing the machine's few cores."""

    def __init__(self) -> None:
        self.seconds = 0.0
        original = httpx.HTTPTransport.handle_request

        def delayed(transport: httpx.HTTPTransport, request: httpx.Request) -> httpx.Response:
            if self.seconds:
                time.sleep(self.seconds)
            return original(transport, request)

        httpx.HTTPTransport.handle_request = delayed  # type: ignore[method-assign,assignment]
