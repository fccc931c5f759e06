"""Time the on_webhook handler spends per verified booking-platform webhook, on the local stack (DynamoDB
Local, moto's Secrets Manager and EventBridge, the platform simulator for fetch-backs), warm, against
same-run baselines: an unknown route (routing only) and a forged signature (settings and secret read,
then refused). Also the first request of a fresh process: import plus one verified webhook.

Each request is shaped by the local HTTP API from template.yaml's routes (``devstack.local_api``, payload 2.0)
before the clock starts; the figure is the handler alone.

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

from devstack.stack import ACCOUNT_ID, REGION, LocalStack, StackPorts, apply_env, stack_env

PORTS = StackPorts.pick()
apply_env({**stack_env(PORTS), "POWERTOOLS_LOG_LEVEL": "ERROR"})  # the figures, not the handler's log lines

from devstack.blueprint import blueprint  # noqa: E402
from devstack.functions import LocalFunction  # noqa: E402
from devstack.local_api import LocalApi  # noqa: E402
from devstack.sims.platforms import PlatformSimulator  # noqa: E402
from tests.support.platform_hooks import Hook, SignedRequest  # noqa: E402
from tests.support.platform_samples import load  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
TENANT = "t-bench"
FUNCTION = "OnWebhookFunction"
CHILD = """
import json, sys, time
started = time.perf_counter()
from functions.on_webhook.app import lambda_handler
imported = time.perf_counter()
from devstack.lambda_runner import FakeLambdaContext
context = FakeLambdaContext(function_name="calsync-on-webhook", memory_limit_in_mb=256, timeout_seconds=10,
                            invoked_function_arn="arn:aws:lambda:us-east-1:123456789012:function:calsync-on-webhook")
event = json.load(open(sys.argv[1]))
began = time.perf_counter()
status = lambda_handler(event, context)["statusCode"]
done = time.perf_counter()
print(json.dumps({"import_ms": (imported - started) * 1000, "first_ms": (done - began) * 1000, "status": status}))
"""

Event = dict[str, Any]
Request = Callable[[int], Event]


class Webhooks:
    """on_webhook as deployed: its routes from template.yaml, its handler in this process."""

    def __init__(self) -> None:
        plan = blueprint()
        self.function = LocalFunction(plan.functions[FUNCTION], region=REGION, account_id=ACCOUNT_ID)
        self.api = LocalApi({FUNCTION: self.function}, routes=[r for r in plan.routes if r.function == FUNCTION],
                            region=REGION, account_id=ACCOUNT_ID)

    def event(self, request: SignedRequest) -> Event:
        """The payload-2.0 event API Gateway sends for ``request``."""
        for route in self.api.routes:
            parameters = route.match("POST", request.path)
            if parameters is not None:
                return self.api.event(route, parameters, "POST", request.path, "", request.headers, request.body,
                                      None)
        raise SystemExit(f"no route takes {request.path}")

    def status(self, event: Event) -> tuple[int, str]:
        result = self.function.invoke(event)
        return int(result["statusCode"]), str(result.get("body"))[:200]


def timed(webhooks: Webhooks, runs: int, request: Request, expect: int) -> tuple[float, float]:
    samples = []
    with contextlib.redirect_stdout(io.StringIO()):  # the handler's log lines and metrics, not the figures
        webhooks.status(request(-1))  # warm-up
        for index in range(runs):
            event = request(index)
            started = time.perf_counter()
            status, body = webhooks.status(event)
            samples.append((time.perf_counter() - started) * 1000)
            if status != expect:
                raise SystemExit(f"expected {expect}, got {status}: {body!r}")
    return min(samples), statistics.median(samples)


def calcom(webhooks: Webhooks, hook: Hook) -> Request:
    def request(index: int) -> Event:
        sample = load("calcom", "booking-created")
        body = json.loads(json.dumps(sample.body))
        body["payload"]["uid"] = f"bench-{index}-{time.monotonic_ns()}"
        return webhooks.event(hook.request(sample.with_body(body)))
    return request


def fetched(webhooks: Webhooks, hook: Hook, name: str, path: str,
            vary: Callable[[dict[str, Any], int], None]) -> Request:
    sample = load(hook.platform, name)

    def request(index: int) -> Event:
        state = json.loads(json.dumps(sample.api[path]))
        vary(state, index)  # a new state each time: the same one again would be a replay
        hook.sim.put(hook.platform, path, state)
        return webhooks.event(hook.request(sample))
    return request


def first_request(event: Event) -> dict[str, Any]:
    """A fresh interpreter: importing the handler, then one verified Cal.com webhook."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump(event, handle)
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
        webhooks = Webhooks()
        calcom_hook = Hook(stack, sim, TENANT, "calcom")
        acuity_hook = Hook(stack, sim, TENANT, "acuity")
        timetap_hook = Hook(stack, sim, TENANT, "timetap")
        forged = webhooks.event(calcom_hook.request(load("calcom", "booking-created"), secret="forged"))
        unknown = webhooks.event(SignedRequest("/webhooks/platforms/no-such/t-bench",
                                               {"content-type": "application/json"}, b"{}"))
        cases: list[tuple[str, Request, int]] = [
            ("baseline: unknown platform (404)", lambda _: unknown, 404),
            ("baseline: forged signature (401)", lambda _: forged, 401),
            ("Cal.com, full state (verify, claim, publish)", calcom(webhooks, calcom_hook), 200),
            ("Acuity, fetch-back (verify, fetch, state, publish)",
             fetched(webhooks, acuity_hook, "scheduled", "/api/v1/appointments/700001",
                     lambda state, i: state.update(duration=str(30 + i % 60))), 200),
            ("TimeTap, secret URL + fetch-back",
             fetched(webhooks, timetap_hook, "appointment-created", "/appointments/640001",
                     lambda state, i: state.update(endTime=1200 + i % 59)), 200),
        ]
        print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}, "
              f"{args.runs} warm requests each (ms per request, handler only)")
        for label, request, expect in cases:
            best, median = timed(webhooks, args.runs, request, expect)
            print(f"  {label:54s} min {best:6.1f}  median {median:6.1f}")
        first = first_request(calcom(webhooks, calcom_hook)(10_000))
        print(f"  fresh process: import {first['import_ms']:.0f} ms, then the first verified webhook "
              f"{first['first_ms']:.0f} ms (status {first['status']})")


if __name__ == "__main__":
    main()
