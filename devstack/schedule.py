"""A function's ``Schedule`` event, played in-process: the rate comes from template.yaml, the event is the one
EventBridge Scheduler sends (``detail-type: Scheduled Event``).

As with an EventBridge rate schedule, the first tick comes one period after the start, and a tick that
fails is not retried (the template's RetryPolicy is 0 attempts): the next one comes a period later.
``period_seconds`` may be shorter than the template's (``make serve`` has a flag for it), and
:meth:`Schedule.run_now` ticks at once (the console's invoke endpoint does the same through Lambda's API).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import uuid
from collections.abc import Callable
from typing import Any

from devstack.functions import LocalFunction

log = logging.getLogger("devstack.schedule")


def scheduled_event(rule_arn: str, region: str, account_id: str) -> dict[str, Any]:
    """The event a schedule rule delivers to its target."""
    return {
        "version": "0", "id": str(uuid.uuid4()), "detail-type": "Scheduled Event", "source": "aws.events",
        "account": account_id, "time": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), "region": region,
        "resources": [rule_arn], "detail": {},
    }


class Schedule:
    """Invokes ``function`` every ``period_seconds`` on its own thread until stopped."""

    def __init__(self, function: LocalFunction, period_seconds: float, event: Callable[[], dict[str, Any]]) -> None:
        self.function = function
        self.period_seconds = period_seconds
        self._event = event
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"schedule-{function.name}", daemon=True)
        self.ticks = 0

    def run_now(self) -> Any:
        """One tick now (the handler's lock keeps it from overlapping a scheduled one)."""
        result = self.function.invoke(self._event())
        self.ticks += 1
        return result

    def _loop(self) -> None:
        while not self._stop.wait(self.period_seconds):
            try:
                self.run_now()
            except Exception:  # a failed tick is not retried; the next one comes a period later
                log.exception("%s failed; the next tick comes in %g s", self.function.name, self.period_seconds)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=self.function.spec.timeout_seconds + 5)
