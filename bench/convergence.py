"""The long convergence run: at least 1,000 generated schedules (tests/support/convergence.py)
against the local stack, with the figures: schedules, steps, faults injected by kind, deliveries,
crashes, sweeper runs, provider calls against their bound, and what was lost or duplicated.

    PYTHONPATH=layers/common:. unshare --net bash -c 'ip link set lo up && \\
        .venv/bin/python -m bench.convergence [--schedules 1000] [--seed N]'
"""

from __future__ import annotations

import argparse
import random
import time

from devstack.stack import LocalStack, StackPorts, apply_env, stack_env

PORTS = StackPorts.pick()
apply_env(stack_env(PORTS))

from tests.integration.test_convergence import STEPS, check, run_schedules  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--schedules", type=int, default=1000)
    parser.add_argument("--steps", type=int, default=STEPS)
    parser.add_argument("--seed", type=int, default=random.SystemRandom().randrange(2**32))
    args = parser.parse_args()
    print(f"convergence: {args.schedules} schedules of up to {args.steps} steps, seed {args.seed}", flush=True)
    with LocalStack(ports=PORTS) as stack:
        stack.create_resources()
        started = time.monotonic()
        figures = run_schedules(stack, args.schedules, args.steps, args.seed)
        elapsed = time.monotonic() - started
        check(figures, args.schedules)
    faults = sum(figures.faults.values())
    print(f"{elapsed:.0f} s ({elapsed / max(1, figures.schedules):.2f} s per schedule); "
          f"{faults / max(1, figures.schedules):.1f} faults and {figures.crashes} crashes in all; "
          f"provider calls {figures.provider_calls} of a bound of {figures.call_bound}; "
          f"lost {figures.missing}, duplicated {figures.duplicates}, stale {figures.stale}, extra {figures.extra}")


if __name__ == "__main__":
    main()
