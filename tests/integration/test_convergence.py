"""Proof of convergence (see ``tests/integration/convergence.py``): generated schedules of appointment
changes, duplicates, reordering, stale versions, redeliveries, provider faults, crashes between the
provider write and the ledger write and concurrent invocations all end with every calendar holding
exactly the desired events.

A short run is part of ``make test``; ``-m slow`` runs 1,000 schedules (``bench/convergence.py`` prints
the figures). The seed is fixed so CI is repeatable; a failure names it, and
``CALSYNC_CONVERGENCE_SEED=<n>`` replays (or varies) it.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, seed, settings
from hypothesis.stateful import run_state_machine_as_test

from devstack.deployment import Deployment
from devstack.stack import LocalStack
from tests.support import convergence, twoway_convergence
from tests.support.simulators import forget_calsync_state

SEED = int(os.environ.get("CALSYNC_CONVERGENCE_SEED", "20261121"))
SHORT_SCHEDULES = 12
OAUTH_SCHEDULES = 4
TWO_WAY_SCHEDULES = 4
TWO_WAY_STEPS = 24
LONG_SCHEDULES = 1000
STEPS = 24


def run_schedules(stack: LocalStack, schedules: int, steps: int = STEPS, seed_value: int = SEED,
                  backend: Callable[[], convergence.Backend] = convergence.CalDavBackend) -> convergence.Figures:
    """Runs ``schedules`` generated schedules; returns the figures of this run alone."""
    convergence.Env.stack, convergence.Env.backend = stack, backend
    if backend is not convergence.CalDavBackend:
        forget_calsync_state()
    before = convergence.FIGURES
    convergence.FIGURES = convergence.Figures(schedules=before.schedules)
    machine = seed(seed_value)(type("SeededConvergence", (convergence.Convergence,), {}))
    try:
        run_state_machine_as_test(machine, settings=settings(
            max_examples=schedules, stateful_step_count=steps, deadline=None, database=None, print_blob=True,
            suppress_health_check=list(HealthCheck)))
    except BaseException as error:
        error.add_note(f"convergence seed {seed_value}: rerun with CALSYNC_CONVERGENCE_SEED={seed_value}")
        raise
    figures = convergence.FIGURES
    figures.schedules -= before.schedules
    return figures


def check(figures: convergence.Figures, schedules: int) -> None:
    print(f"\nconvergence: {figures.line()}")
    assert figures.schedules >= schedules
    assert figures.missing == figures.duplicates == figures.stale == figures.extra == 0
    assert sum(figures.faults.values()) > 0 and figures.crashes > 0 and figures.deliveries > 0
    assert figures.steps["race"] > 0  # the reassignment race was generated and checked
    assert figures.provider_calls <= figures.call_bound


def test_generated_schedules_converge_to_exactly_the_desired_calendars(stack: LocalStack) -> None:
    check(run_schedules(stack, SHORT_SCHEDULES), SHORT_SCHEDULES)


@pytest.mark.parametrize("kind", ["google", "microsoft"])
def test_generated_schedules_converge_on_the_google_and_graph_simulators(stack: LocalStack, google_sim, microsoft_sim,
                                                                        kind: str) -> None:
    convergence.Env.google, convergence.Env.microsoft = google_sim, microsoft_sim
    check(run_schedules(stack, OAUTH_SCHEDULES, backend=convergence.BACKENDS[kind]), OAUTH_SCHEDULES)


@pytest.mark.slow
def test_a_thousand_generated_schedules_converge(stack: LocalStack) -> None:
    check(run_schedules(stack, LONG_SCHEDULES), LONG_SCHEDULES)


# -- two-way schedules (tests/support/twoway_convergence.py) ------------------------------------------------


def run_two_way(deployment: Deployment, kind: str, schedules: int, steps: int = TWO_WAY_STEPS,
                seed_value: int = SEED) -> twoway_convergence.Figures:
    """Runs ``schedules`` two-way schedules on one kind of calendar; returns the figures of this run alone."""
    twoway_convergence.Env.deployment, twoway_convergence.Env.kind = deployment, kind
    twoway_convergence.FIGURES = twoway_convergence.Figures()
    machine = seed(seed_value)(type("SeededTwoWay", (twoway_convergence.TwoWayConvergence,), {}))
    try:
        run_state_machine_as_test(machine, settings=settings(
            max_examples=schedules, stateful_step_count=steps, deadline=None, database=None, print_blob=True,
            suppress_health_check=list(HealthCheck)))
    except BaseException as error:
        error.add_note(f"two-way convergence seed {seed_value} ({kind}): rerun with "
                       f"CALSYNC_CONVERGENCE_SEED={seed_value}")
        raise
    return twoway_convergence.FIGURES


def check_two_way(figures: twoway_convergence.Figures, schedules: int) -> None:
    print(f"\ntwo-way convergence: {figures.line()}")
    assert sum(figures.schedules.values()) >= schedules
    assert figures.blocks_missing == figures.blocks_extra == figures.loops == figures.conflicts_wrong == 0
    assert figures.own_missing == figures.own_duplicated == figures.own_stale == figures.own_extra == 0
    assert figures.provider_calls <= figures.call_bound


@pytest.mark.parametrize("kind", ["google", "microsoft", "caldav"])
def test_two_way_schedules_converge(deployment: Deployment, google_sim, microsoft_sim, kind: str) -> None:
    twoway_convergence.Env.google, twoway_convergence.Env.microsoft = google_sim, microsoft_sim
    check_two_way(run_two_way(deployment, kind, TWO_WAY_SCHEDULES), TWO_WAY_SCHEDULES)


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["google", "microsoft", "caldav"])
def test_many_two_way_schedules_converge(deployment: Deployment, google_sim, microsoft_sim, kind: str) -> None:
    twoway_convergence.Env.google, twoway_convergence.Env.microsoft = google_sim, microsoft_sim
    check_two_way(run_two_way(deployment, kind, 100, steps=30), 100)
