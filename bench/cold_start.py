"""Cold-start import time of each handler module in a fresh Python process (wall clock, best and
median of N runs after one warm-up). Budget: worker ≤ 300 ms, feed/webhook/connect ≤ 200 ms.

    .venv/bin/python -m bench.cold_start [--runs 7]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

from devstack.stack import TABLE_NAMES

ROOT = Path(__file__).resolve().parents[1]
HANDLERS = {
    "on_appointment_change": "functions.on_appointment_change.app",
    "feed": "functions.feed.app",
    "on_webhook": "functions.on_webhook.app",
    "on_webhook + calendar route": "functions.on_webhook.app, calsync.services.twoway.webhooks",
    "retry_sweeper": "functions.retry_sweeper.app",
    "on_pull": "functions.on_pull.app",
    "availability": "functions.availability.app",
    "connect": "functions.connect.app",
    "integration_api": "functions.integration_api.app",
}
"""Handler modules; "+ calendar route" adds what a push notification imports on first use."""
ENV = {
    **TABLE_NAMES,
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
    "POWERTOOLS_SERVICE_NAME": "calsync",
    "POWERTOOLS_METRICS_NAMESPACE": "CalSync",
}


def time_import(module: str, runs: int) -> tuple[float, float, float]:
    """Best and median wall time, and best CPU time (user + system: far less sensitive to other load
    on the machine), of a fresh interpreter importing ``module``, in milliseconds."""
    code = f"import sys; sys.path[:0] = ['layers/common', '.']; import {module}"
    env = {key: value for key, value in {**os.environ, **ENV}.items() if key != "PYTHONDONTWRITEBYTECODE"}
    samples, cpu = [], []
    for index in range(runs + 1):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, check=True)
        elapsed = (time.perf_counter() - started) * 1000
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if index:  # the first run warms the page cache and writes bytecode
            samples.append(elapsed)
            cpu.append((after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime) * 1000)
    return min(samples), statistics.median(samples), min(cpu)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    baseline, _, baseline_cpu = time_import("sys", args.runs)
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}  "
          f"(interpreter start alone: {baseline:.0f} ms wall, {baseline_cpu:.0f} ms CPU)")
    for name, module in HANDLERS.items():
        if not (ROOT / module.split(",")[0].replace(".", "/")).with_suffix(".py").exists():
            continue
        try:
            best, median, cpu = time_import(module, args.runs)
        except subprocess.CalledProcessError:
            print(f"{name:24s} import failed")
            continue
        print(f"{name:24s} wall best {best:5.0f} ms  median {median:5.0f} ms   CPU best {cpu:5.0f} ms")


if __name__ == "__main__":
    main()
