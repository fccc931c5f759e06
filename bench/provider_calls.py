"""Google and Microsoft: provider API calls, token-endpoint calls and Secrets Manager calls per change,
measured through the real handler path (engine, ledger in DynamoDB Local, secrets in moto) into the
simulators; and what importing each provider's OAuth library costs the first refresh of an environment
whose init did not make it (an on-demand init: ``calsync.services.warm``; a SnapStart init makes them).

Target: exactly one provider call for a real change, none for a repeat, no Secrets Manager call when warm.

    .venv/bin/python -m bench.provider_calls [--runs 7]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import subprocess
import sys
from typing import Any

from devstack.stack import LocalStack, StackPorts, apply_env, stack_env

PORTS = StackPorts.pick()
apply_env(stack_env(PORTS))

from pathlib import Path  # noqa: E402

from calsync.aws import secret_store as secrets  # noqa: E402
from calsync.domain.contract import parse_detail  # noqa: E402
from calsync.domain.model import PrivacySettings  # noqa: E402
from calsync.services import engine  # noqa: E402
from devstack import sample_day  # noqa: E402
from devstack.oauth_clinicians import OAuthClinician, connect_google, connect_microsoft, simulators  # noqa: E402
from devstack.stack import TABLE_NAMES  # noqa: E402

TENANT = "bench-oauth"
STEPS = ("create", "repeat", "reschedule", "repeat", "cancel", "re-create after cancel", "all-day create")


def _detail(practitioner: str, appointment_id: str, version: int, hhmm: str, status: str = "scheduled",
            all_day: bool = False) -> dict[str, Any]:
    day = sample_day.day()
    if all_day:
        start = dt.datetime.combine(day, dt.time(0), sample_day.ZONE)
        end = start + dt.timedelta(days=1)
    else:
        hour, minute = map(int, hhmm.split(":"))
        start = dt.datetime.combine(day, dt.time(hour, minute), sample_day.ZONE)
        end = start + dt.timedelta(minutes=45)
    return {"schema_version": 1, "tenant_id": TENANT, "appointment_id": appointment_id,
            "updated_at": (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=30 - version)).isoformat(),
            "version": version, "status": status, "start": start.isoformat(), "end": end.isoformat(),
            "all_day": all_day, "timezone": "America/New_York", "practitioner_id": practitioner,
            "practice": sample_day.PRACTICE, "client": {"id": "c-1", "internal_id": "A-1"}}


def scenario(practitioner: str) -> list[dict[str, Any]]:
    return [
        _detail(practitioner, f"{practitioner}-apt-1", 1, "09:00"),
        _detail(practitioner, f"{practitioner}-apt-1", 1, "09:00"),
        _detail(practitioner, f"{practitioner}-apt-1", 2, "10:00"),
        _detail(practitioner, f"{practitioner}-apt-1", 2, "10:00"),
        _detail(practitioner, f"{practitioner}-apt-1", 3, "10:00", status="cancelled"),
        _detail(practitioner, f"{practitioner}-apt-1", 4, "11:00"),
        _detail(practitioner, f"{practitioner}-apt-2", 1, "00:00", all_day=True),
    ]


def measure(clinician: OAuthClinician) -> list[tuple[str, int, int, int]]:
    """(step, provider API calls, token calls, Secrets Manager calls) for each change of the scenario."""
    sm_calls: list[str] = []
    client = secrets.client_for(clinician.integration.tenant_id, clinician.integration.secret_ref or "")
    client.meta.events.register("before-call.secrets-manager", lambda model, **_: sm_calls.append(model.name))
    rows = []
    for step, detail in zip(STEPS, scenario(clinician.integration.practitioner_id), strict=True):
        api, tokens, sm = len(clinician.sim.api_requests()), len(clinician.sim.token_requests()), len(sm_calls)
        engine.handle_change(parse_detail(detail))
        rows.append((step, len(clinician.sim.api_requests()) - api, len(clinician.sim.token_requests()) - tokens,
                     len(sm_calls) - sm))
    return rows


ROOT = Path(__file__).resolve().parents[1]


def lazy_sdk_import_ms(module: str, runs: int) -> float:
    """What importing an SDK costs on the first refresh (not at cold start): median over ``runs``."""
    env = {**os.environ, **TABLE_NAMES}
    code = f"import time, sys; t = time.perf_counter(); import {module}; print((time.perf_counter() - t) * 1000)"
    samples = [float(subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, check=True,
                                    capture_output=True, text=True).stdout) for _ in range(runs)]
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    with LocalStack(ports=PORTS) as stack, simulators() as (google, graph):
        stack.create_resources()
        privacy = PrivacySettings()
        clinicians = [connect_google(stack, google, tenant_id=TENANT, practitioner_id="dr-google", privacy=privacy),
                      connect_microsoft(stack, graph, tenant_id=TENANT, practitioner_id="dr-graph", privacy=privacy)]
        print("provider calls per change (real handler path: engine → ledger → provider)")
        print(f"  {'change':26s} {'provider':10s} {'API':>4s} {'token':>6s} {'secrets':>8s}")
        for clinician in clinicians:
            for step, api, token, sm in measure(clinician):
                print(f"  {step:26s} {clinician.provider:10s} {api:4d} {token:6d} {sm:8d}")
    for sdk in ("google.oauth2.credentials", "msal"):
        print(f"first refresh only, import {sdk}: {lazy_sdk_import_ms(sdk, args.runs):.0f} ms")


if __name__ == "__main__":
    main()
