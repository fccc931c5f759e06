"""Time the on_webhook handler spends per verified booking-platform webhook, on the local stack (DynamoDB
Local, moto's Secrets Manager and EventBridge, the platform simulator for fetch-backs), warm, against
same-run baselines: an unknown route (routing only) and a forged signature (settings and secret read,
then refused). Also the first request of a fresh process: import plus one verified webhook.

    make bench   (or: PYTHONPATH=layers/common:. unshare --net bash -c 'ip link set lo up &&
                  .venv/bin/python -m bench.platform_webhooks')
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from devstack.stack import LocalStack, StackPorts, apply_env, stack_env

PORTS = StackPorts.pick()
apply_env({**stack_env(PORTS), "POWERTOOLS_LOG_LEVEL": "ERROR"})  # the figures, not the handler's log lines

from devstack.sim_platforms import PlatformSimulator  # noqa: E402
from devstack.webhook_server import api_event, invoke  # noqa: E402
from tests.integration.platform_hooks import Hook  # noqa: E402
from tests.platform_samples import load  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
TENANT = "t-bench"
CHILD = """
import json, sys, time
started = time.perf_counter()
from functions.on_webhook.app import lambda_handler
imported = time.perf_counter()
from devstack.webhook_server import invoke
status, _, _ = invoke(lambda_handler, json.load(open(sys.argv[1])))
done = time.perf_counter()
print(json.dumps({"import_ms": (imported - started) * 1000, "first_ms": (done - imported) * 1000, "status": status}))
"""


def timed(runs: int, request: Callable[[int], dict[str, Any]], expect: int) -> tuple[float, float]:
    from functions.on_webhook.app import lambda_handler

    samples = []
    with contextlib.redirect_stdout(io.StringIO()):  # the handler's log lines and metrics, not the figures
        invoke(lambda_handler, request(-1))  # warm-up
        for index in range(runs):
            event = request(index)
            started = time.perf_counter()
            status, _, body = invoke(lambda_handler, event)
            samples.append((time.perf_counter() - started) * 1000)
            if status != expect:
                raise SystemExit(f"expected {expect}, got {status}: {body[:200]!r}")
    return min(samples), statistics.median(samples)


def calcom(hook: Hook) -> Callable[[int], dict[str, Any]]:
    def request(index: int) -> dict[str, Any]:
        sample = load("calcom", "booking-created")
        body = json.loads(json.dumps(sample.body))
        body["payload"]["uid"] = f"bench-{index}-{time.monotonic_ns()}"
        return hook.request(sample.with_body(body))
    return request


Request = Callable[[int], dict[str, Any]]


def fetched(hook: Hook, name: str, path: str, vary: Callable[[dict[str, Any], int], None]) -> Request:
    sample = load(hook.platform, name)

    def request(index: int) -> dict[str, Any]:
        state = json.loads(json.dumps(sample.api[path]))
        vary(state, index)  # a new state each time: the same one again would be a replay
        hook.sim.put(hook.platform, path, state)
        return hook.request(sample)
    return request


def first_request(hook: Hook) -> dict[str, Any]:
    """A fresh interpreter: importing the handler, then one verified Cal.com webhook."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump(calcom(hook)(10_000), handle)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    subprocess.run([sys.executable, "-c", "import functions.on_webhook.app"], cwd=ROOT, env=env, check=True)
    output = subprocess.run([sys.executable, "-c", CHILD, handle.name], cwd=ROOT, env=env, check=True,
                            capture_output=True, text=True).stdout
    os.unlink(handle.name)
    line = next(line for line in output.splitlines() if line.startswith('{"import_ms"'))
    result: dict[str, Any] = json.loads(line)
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=40)
    args = parser.parse_args()
    with LocalStack(ports=PORTS) as stack, PlatformSimulator() as sim:
        stack.create_resources()
        calcom_hook = Hook(stack, sim, TENANT, "calcom")
        acuity_hook = Hook(stack, sim, TENANT, "acuity")
        timetap_hook = Hook(stack, sim, TENANT, "timetap")
        forged = calcom_hook.request(load("calcom", "booking-created"), secret="forged")
        unknown = api_event("POST", "/webhooks/platforms/no-such/t-bench", {"content-type": "application/json"},
                            b"{}")
        assert unknown is not None
        cases: list[tuple[str, Callable[[int], dict[str, Any]], int]] = [
            ("baseline: unknown route (404)", lambda _: unknown, 404),
            ("baseline: forged signature (401)", lambda _: forged, 401),
            ("Cal.com, full state (verify, claim, publish)", calcom(calcom_hook), 200),
            ("Acuity, fetch-back (verify, fetch, state, publish)",
             fetched(acuity_hook, "scheduled", "/api/v1/appointments/700001",
                     lambda state, i: state.update(duration=str(30 + i % 60))), 200),
            ("TimeTap, secret URL + fetch-back",
             fetched(timetap_hook, "appointment-created", "/appointments/640001",
                     lambda state, i: state.update(endTime=1200 + i % 59)), 200),
        ]
        print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}, "
              f"{args.runs} warm requests each (ms per request, handler only)")
        for label, request, expect in cases:
            best, median = timed(args.runs, request, expect)
            print(f"  {label:54s} min {best:6.1f}  median {median:6.1f}")
        first = first_request(calcom_hook)
        print(f"  fresh process: import {first['import_ms']:.0f} ms, then the first verified webhook "
              f"{first['first_ms']:.0f} ms (status {first['status']})")


if __name__ == "__main__":
    main()
