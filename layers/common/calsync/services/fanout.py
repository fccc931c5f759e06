"""Runs independent pieces of work side by side: the syncs of one change (one per integration), the items
of a backfill. A change to twenty calendars then costs about as much as the slowest of them, not the sum.

Why threads are enough: a sync spends its time waiting on DynamoDB and on the provider, not computing,
and each one runs under its own ledger lease on its own (integration, appointment) item, so two syncs of
one change never touch the same item or the same calendar. What they share is safe to share across
threads: botocore clients, the pooled HTTP clients (one per provider kind), the token cache (one refresh
at a time per token) and the metrics (counted under a lock).

Every job runs to its end, whatever the others do; :meth:`FanOut.run` returns each job's result or the
exception it raised, in order, and the caller decides what a failure means. :data:`IN_LINE` runs them one
after another in the calling thread (the in-memory tests, and a single target, which needs no thread).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Protocol

DEFAULT_WIDTH = 32
"""Threads of the shared pool: more than the integrations one change usually reaches (a clinician's
calendars plus the practice's front-desk feeds), so one change runs in one wave."""


class FanOut(Protocol):
    def run[T](self, jobs: Sequence[Callable[[], T]]) -> list[T | BaseException]:
        """Runs every job; returns each one's result, or what it raised, in the order given."""
        ...


def _captured[T](job: Callable[[], T]) -> T | BaseException:
    try:
        return job()
    except BaseException as error:  # reported to the caller, who decides; a crash still surfaces there
        return error


class InLine:
    """One job after another, in the calling thread."""

    def run[T](self, jobs: Sequence[Callable[[], T]]) -> list[T | BaseException]:
        return [_captured(job) for job in jobs]


IN_LINE = InLine()


class ThreadPool:
    """A bounded pool shared by every caller in the process. The calling thread runs the first job itself
    (one job needs no thread at all), the pool the others."""

    def __init__(self, width: int = DEFAULT_WIDTH, name: str = "calsync-fanout") -> None:
        if width < 1:
            raise ValueError("a pool needs at least one thread")
        self.width = width
        self._name = name
        self._executor: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()
        self._inside = threading.local()

    def start(self) -> ThreadPool:
        """Creates the threads' executor now (at cold start) rather than on the first change."""
        with self._lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(max_workers=self.width, thread_name_prefix=self._name,
                                                    initializer=self._mark)
            return self

    def _mark(self) -> None:
        self._inside.active = True

    def run[T](self, jobs: Sequence[Callable[[], T]]) -> list[T | BaseException]:
        if len(jobs) <= 1 or getattr(self._inside, "active", False):
            # one job needs no thread; and a job of this pool that fans out again runs its jobs itself,
            # so no thread ever waits for a thread the pool cannot give it
            return [_captured(job) for job in jobs]
        executor = self.start()._executor
        assert executor is not None
        futures: list[Future[T | BaseException]] = [executor.submit(_captured, job) for job in jobs[1:]]
        first = _captured(jobs[0])
        return [first, *(future.result() for future in futures)]

    def shutdown(self) -> None:
        with self._lock:
            if self._executor is not None:
                self._executor.shutdown(wait=True)
                self._executor = None


def first_failure[T](results: Sequence[T | BaseException]) -> BaseException | None:
    """The first exception among ``results`` (in job order), or None."""
    return next((result for result in results if isinstance(result, BaseException)), None)
