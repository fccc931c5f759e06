"""Job 8, renewals: hooks registered by the code that owns something with an expiry (watch channels,
subscriptions), called at the end of every run with what is left of its budget."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from calsync.services.sweeper.context import Budget, Run

RenewalHook = Callable[[dt.datetime, Budget], int]
"""Renews what is about to expire; returns how many it renewed."""
_hooks: list[RenewalHook] = []


def register_renewal(hook: RenewalHook) -> None:
    """Adds a hook the sweeper calls at the end of every run, with what is left of the budget."""
    if hook not in _hooks:
        _hooks.append(hook)


def renew(run: Run) -> None:
    for hook in _hooks:
        if run.budget.can_read():
            run.report.renewed += hook(run.now, run.budget)
