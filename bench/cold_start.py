"""Cold start of each handler, honestly: in a fresh interpreter, the import with everything the handler makes
at init (``calsync.services.warm``, ``feed.cache.warm``), then its first invocation and a warm one against the
local stack; and what a SnapStart restore costs on the request path (the after-restore hooks).

Two inits are measured. *On demand* is Lambda's ordinary init, on the request path of a new environment.
*Snapshot* is the init SnapStart captures when a version is published (``AWS_LAMBDA_INITIALIZATION_TYPE=
snap-start``: the provider modules and their OAuth libraries are made too); an environment then starts from the
snapshot, and its request path carries the restore (Lambda's, not measurable here) and calsync's
after-restore hooks (measured). Budgets: worker and sweeper 300 ms; feed, webhook, connect page and integration
API 200 ms; the first invocation close to a warm one. Baselines, same run: the interpreter starting alone, and
the warm invocation.

    make bench   (or: PYTHONPATH=layers/common:. unshare --net bash -c 'ip link set lo up &&
                  .venv/bin/python -m bench.cold_start [--runs 5]')
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from devstack.deployment import Deployment, DeploymentPorts
from devstack.stack import apply_env, stack_env

PORTS = DeploymentPorts.pick()
apply_env(stack_env(PORTS.stack))

from bench.figures import goal, machine, median  # noqa: E402
from calsync.domain.model import PrivacySettings  # noqa: E402
from calsync.services import feeds as management  # noqa: E402
from devstack.clinicians import connect_caldav  # noqa: E402
from tests.support.appointments import envelope  # noqa: E402
from tests.support.feeds import apply, at, booking, today  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
HANDLERS = {
    "on_appointment_change": ("functions.on_appointment_change.app", 300),
    "retry_sweeper": ("functions.retry_sweeper.app", 300),
    "feed": ("functions.feed.app", 200),
    "on_webhook": ("functions.on_webhook.app", 200),
    "connect": ("functions.connect.app", 200),
    "integration_api": ("functions.integration_api.app", 200),
    "on_pull": ("functions.on_pull.app", 300),
    "availability": ("functions.availability.app", 200),
}
SNAPSTART = frozenset({"on_appointment_change", "retry_sweeper", "feed", "connect", "integration_api"})
CLOSE_MS = 50
"""A first invocation is "close to a warm one" within this: what is left is the connections a new environment
opens (DynamoDB, S3, the calendar) and the one secret read of each integration it meets first."""
CHILD = r'''
import json, sys, time
started = time.perf_counter()
sys.path[:0] = ["layers/common", "."]
import importlib
handler = importlib.import_module(sys.argv[1]).lambda_handler
imported = time.perf_counter()
from calsync.core import snapshot
hooks_started = time.perf_counter()
snapshot.restored()
hooks = time.perf_counter() - hooks_started
events = json.loads(sys.argv[2])
from devstack.lambda_runner import FakeLambdaContext
context = FakeLambdaContext(function_name="bench", memory_limit_in_mb=1024,
                            invoked_function_arn="arn:aws:lambda:us-east-1:123456789012:function:bench",
                            timeout_seconds=60)
times = []
for event in events:
    began = time.perf_counter()
    result = handler(event, context if event is not None else None)
    times.append(time.perf_counter() - began)
print("RESULT " + json.dumps({"import": imported - started, "hooks": hooks, "first": times[0], "warm": times[1],
                              "result": str(result)[:200]}))
'''


def child(module: str, events: list[Any], snapshot: bool) -> dict[str, float]:
    env = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}
    env.pop("AWS_LAMBDA_INITIALIZATION_TYPE", None)
    if snapshot:
        env["AWS_LAMBDA_INITIALIZATION_TYPE"] = "snap-start"
    env["POWERTOOLS_METRICS_DISABLED"] = "true"
    done = subprocess.run([sys.executable, "-c", CHILD, module, json.dumps(events)], cwd=ROOT, env=env,
                          capture_output=True, text=True, check=False, timeout=120)
    line = next((line for line in done.stdout.splitlines() if line.startswith("RESULT ")), None)
    if done.returncode != 0 or line is None:
        raise RuntimeError(f"{module} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    return {key: value * 1000 for key, value in json.loads(line[len("RESULT "):]).items() if key != "result"}


def interpreter_alone(runs: int) -> float:
    samples = []
    for _ in range(runs):
        began = dt.datetime.now()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        samples.append((dt.datetime.now() - began).total_seconds() * 1000)
    return min(samples)


def sqs_event(detail: dict[str, Any], message_id: str) -> dict[str, Any]:
    return {"Records": [{"messageId": message_id, "receiptHandle": "r", "body": json.dumps(detail),
                         "attributes": {"ApproximateReceiveCount": "1"}, "messageAttributes": {},
                         "md5OfBody": "", "eventSource": "aws:sqs", "awsRegion": "us-east-1",
                         "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:changes"}]}


def http_event(method: str, path: str, route: str, query: str = "") -> dict[str, Any]:
    return {"version": "2.0", "routeKey": route, "rawPath": path, "rawQueryString": query,
            "queryStringParameters": dict(part.split("=", 1) for part in query.split("&") if part) or None,
            "headers": {"accept": "text/html"}, "pathParameters": {"proxy": path.split("/", 2)[2]},
            "requestContext": {"http": {"method": method, "path": path, "sourceIp": "127.0.0.1"}, "stage": "$default",
                               "authorizer": {"iam": {"accountId": "000000000000", "userArn":
                                                      "arn:aws:iam::000000000000:user/nobody"}}},
            "isBase64Encoded": False}


def feed_event(token: str) -> dict[str, Any]:
    return {"version": "2.0", "routeKey": "GET /feeds/{file}", "rawPath": f"/feeds/{token}.ics",
            "headers": {"accept-encoding": "gzip"}, "pathParameters": {"file": f"{token}.ics"},
            "requestContext": {"http": {"method": "GET", "path": f"/feeds/{token}.ics"}}, "isBase64Encoded": False}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    print(f"machine: {machine()}")
    with Deployment(PORTS, simulators=False).start(workers=False) as deployment:
        os.environ.update(deployment.env())
        tenant = "bench-cold"
        clinician = connect_caldav(deployment.stack, tenant_id=tenant, practitioner_id="dr-cold",
                                   privacy=PrivacySettings(), username="cold")
        _, issued = management.create_feed(tenant, "dr-cold", base_url="http://127.0.0.1:1")
        apply(*(booking(tenant, f"f-{n}", at(today() + dt.timedelta(days=n), 10)) for n in range(1, 40)))
        assert clinician.integration.integration_id
        changes = 0

        def worker_events() -> list[Any]:
            nonlocal changes
            made = []
            for _ in range(2):  # the first invocation and a warm one: each a new appointment to write
                changes += 1
                start = at(today() + dt.timedelta(days=2), 9) + dt.timedelta(minutes=changes)
                detail = envelope(tenant_id=tenant, appointment_id=f"cold-{changes}", practitioner_id="dr-cold",
                                  start=start.isoformat(), end=(start + dt.timedelta(minutes=30)).isoformat(),
                                  updated_at=dt.datetime.now(dt.UTC).isoformat(), timezone="America/New_York")
                made.append(sqs_event(detail, f"m-{changes}"))
            return made

        def events_for(name: str) -> list[Any]:
            if name == "on_appointment_change":
                return worker_events()
            if name == "feed":
                return [feed_event(issued.token)] * 2
            if name == "retry_sweeper":
                return [None, None]  # called by hand, as an operator would
            if name == "connect":  # a link that is not one: the page that says so
                return [http_event("GET", "/connect/open", "GET /connect/{proxy+}", query="link=not-a-link")] * 2
            if name == "integration_api":  # a caller that is no tenant's: refused
                return [http_event("GET", "/api/v1/integrations", "ANY /api/{proxy+}")] * 2
            if name == "on_pull":  # an empty batch of pull jobs
                return [{"Records": []}] * 2
            if name == "availability":  # a caller that is no tenant's: refused
                event = http_event("GET", "/tenants/t/practitioners/p/busy",
                                   "GET /tenants/{tenant_id}/practitioners/{practitioner_id}/busy",
                                   query="start=2026-01-05T00:00:00Z&end=2026-01-06T00:00:00Z")
                return [{**event, "pathParameters": {"tenant_id": "t", "practitioner_id": "p"}}] * 2
            return [{"version": "2.0", "routeKey": "POST /webhooks/{provider}", "body": "{}"}] * 2

        alone = interpreter_alone(args.runs)
        print(f"interpreter start alone: {alone:.0f} ms (best of {args.runs})")
        samples: dict[tuple[str, str], list[dict[str, float]]] = {}
        modes = [(name, mode) for name in HANDLERS for mode in (("on demand", "snapshot") if name in SNAPSTART
                                                                 else ("on demand",))]
        for round_number in range(args.runs):
            for name, mode in modes if round_number % 2 == 0 else list(reversed(modes)):
                samples.setdefault((name, mode), []).append(
                    child(HANDLERS[name][0], events_for(name), snapshot=mode == "snapshot"))
        print(f"ms, best / median of {args.runs} fresh processes "
              f"(import: the interpreter, every import and the init's clients)")
        print(f"  {'function':24s}{'init':10s}{'import+init':>16s}{'first call':>16s}{'warm call':>16s}"
              f"{'first/warm':>12s}{'restore hooks':>15s}")
        for (name, mode), runs in samples.items():
            row = {key: [run[key] for run in runs] for key in ("import", "first", "warm", "hooks")}
            ratio = median(row["first"]) / median(row["warm"])
            print(f"  {name:24s}{mode:10s}" + "".join(f"{min(row[k]):8.0f}/{median(row[k]):6.0f}"
                                                     for k in ("import", "first", "warm"))
                  + f"{ratio:11.2f}×{median(row['hooks']):13.2f}")
            budget = HANDLERS[name][1]
            cold = min(row["import"]) + alone  # the whole process: the interpreter, then the import
            if mode == "on demand":  # with SnapStart, an on-demand init runs only if a snapshot cannot be used
                goal(f"{name} cold import{' (on-demand init)' if name in SNAPSTART else ''}", f"{cold:.0f} ms best",
                     f"interpreter alone {alone:.0f} ms", cold / budget,
                     f"≤ {budget} ms" if name not in SNAPSTART else "none: SnapStart restores a snapshot instead",
                     cold <= budget if name not in SNAPSTART else None)
            if mode == "snapshot":
                on_path = median(row["hooks"])
                goal(f"{name} cold start on the request path (SnapStart: restore hooks)", f"{on_path:.2f} ms",
                     f"on-demand init {median([r['import'] for r in samples[(name, 'on demand')]]) + alone:.0f} ms",
                     on_path / budget, f"≤ {budget} ms + Lambda's restore", on_path <= budget)
            if mode == "snapshot" or name not in SNAPSTART:
                extra = median(row["first"]) - median(row["warm"])
                goal(f"{name} first invocation vs a warm one ({mode} init)",
                     f"{median(row['first']):.0f} ms (+{extra:.0f})", f"warm {median(row['warm']):.0f} ms", ratio,
                     f"≤ warm + {CLOSE_MS} ms", extra <= CLOSE_MS)


if __name__ == "__main__":
    main()
