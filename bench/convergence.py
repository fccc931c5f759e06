"""The long convergence runs, with their figures:

* push schedules (tests/support/convergence.py), at least 1,000 by default on CalDAV, and ``--oauth N`` on
  each of the Google and Graph simulators: schedules, steps, faults injected by kind, deliveries, crashes,
  sweeper runs, provider calls against their bound, what was lost or duplicated;
* two-way schedules (tests/support/twoway_convergence.py), ``--two-way N`` on each of Google, Graph and
  CalDAV: busy blocks and calsync events checked, what was lost, duplicated or looped, provider calls
  against their bound.

    PYTHONPATH=layers/common:. unshare --net bash -c 'ip link set lo up && \\
        .venv/bin/python -m bench.convergence [--schedules 1000] [--oauth 100] [--two-way 100] [--seed N]'
"""

from __future__ import annotations

import argparse
import random
import time

from devstack.deployment import Deployment, DeploymentPorts
from devstack.stack import apply_env, stack_env

PORTS = DeploymentPorts.pick()
apply_env(stack_env(PORTS.stack))

from tests.integration.test_convergence import (  # noqa: E402
    STEPS,
    TWO_WAY_STEPS,
    check,
    check_two_way,
    run_schedules,
    run_two_way,
)
from tests.support import convergence, twoway_convergence  # noqa: E402
from tests.support.simulators import forget_calsync_state  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--schedules", type=int, default=1000)
    parser.add_argument("--oauth", type=int, default=0, help="push schedules on each of Google and Graph")
    parser.add_argument("--two-way", type=int, default=0, help="two-way schedules on each kind of calendar")
    parser.add_argument("--steps", type=int, default=STEPS)
    parser.add_argument("--seed", type=int, default=random.SystemRandom().randrange(2**32))
    args = parser.parse_args()
    print(f"convergence: {args.schedules} schedules of up to {args.steps} steps, seed {args.seed}", flush=True)
    with Deployment(PORTS, time_scale=60, schedule_period_seconds=3600).start(workers=False) as deployment:
        google, graph = deployment.google, deployment.microsoft
        assert google is not None and graph is not None
        convergence.Env.google = twoway_convergence.Env.google = google
        convergence.Env.microsoft = twoway_convergence.Env.microsoft = graph
        started = time.monotonic()
        figures = run_schedules(deployment.stack, args.schedules, args.steps, args.seed)
        elapsed = time.monotonic() - started
        check(figures, args.schedules)
        faults = sum(figures.faults.values())
        print(f"{elapsed:.0f} s ({elapsed / max(1, figures.schedules):.2f} s per schedule); "
              f"{faults / max(1, figures.schedules):.1f} faults and {figures.crashes} crashes in all; "
              f"provider calls {figures.provider_calls} of a bound of {figures.call_bound}; "
              f"lost {figures.missing}, duplicated {figures.duplicates}, stale {figures.stale}, extra {figures.extra}")
        for kind in ("google", "microsoft") if args.oauth else ():
            forget_calsync_state()
            started = time.monotonic()
            figures = run_schedules(deployment.stack, args.oauth, args.steps, args.seed, convergence.BACKENDS[kind])
            check(figures, args.oauth)
            print(f"{kind}: {time.monotonic() - started:.0f} s; lost {figures.missing}, duplicated "
                  f"{figures.duplicates}, stale {figures.stale}, extra {figures.extra}", flush=True)
        for kind in ("google", "microsoft", "caldav") if args.two_way else ():
            started = time.monotonic()
            two_way = run_two_way(deployment, kind, args.two_way, TWO_WAY_STEPS, args.seed)
            check_two_way(two_way, args.two_way)
            print(f"{kind}: {time.monotonic() - started:.0f} s", flush=True)

if __name__ == "__main__":
    main()
