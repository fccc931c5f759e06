"""Concurrent handlers, one step at a time, in an order the test chooses.

Each job runs in its own thread, but only one thread runs at any moment: every call a job makes through
a gated port (:func:`gated`) stops at a gate, and the scheduler picks which waiting thread goes on next
(``choose(n)`` returns an index below ``n``; a hypothesis draw, so failing orders shrink). That makes
every interleaving of port calls reachable and every run repeatable — the races a free-running test hits
by luck ("v1 stored its snapshot but has not yet created its ledger item when v2 looks for targets")
become ordinary, generated cases.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any


class Interleaving:
    def __init__(self, choose: Callable[[int], int]) -> None:
        self._choose = choose
        self._lock = threading.Condition()
        self._waiting: dict[int, threading.Event] = {}
        self._alive: set[int] = set()
        self._local = threading.local()
        self.steps = 0

    def gate(self) -> None:
        """Called by a job's thread before each port call: wait for the scheduler's go."""
        index = getattr(self._local, "index", None)
        if index is None:  # not one of our jobs (the test's own calls): no gate
            return
        go = threading.Event()
        with self._lock:
            self._waiting[index] = go
            self._lock.notify_all()
        go.wait()

    def run(self, jobs: list[Callable[[], Any]]) -> list[BaseException | None]:
        """Runs the jobs to the end, interleaved; returns what each raised (None: it returned)."""
        errors: list[BaseException | None] = [None] * len(jobs)

        def body(index: int) -> None:
            self._local.index = index
            try:
                self.gate()
                jobs[index]()
            except BaseException as error:  # reported to the caller, like a Lambda invocation's failure
                errors[index] = error
            finally:
                with self._lock:
                    self._alive.discard(index)
                    self._lock.notify_all()

        threads = [threading.Thread(target=body, args=(i,), daemon=True) for i in range(len(jobs))]
        self._alive = set(range(len(jobs)))
        for thread in threads:
            thread.start()
        while True:
            with self._lock:
                self._lock.wait_for(lambda: self._alive <= set(self._waiting), timeout=30)
                if not self._alive:
                    break
                assert self._alive <= set(self._waiting), "a job neither reached a gate nor finished"
                ready = sorted(self._waiting)
                index = ready[self._choose(len(ready))]
                go = self._waiting.pop(index)
                self.steps += 1
            go.set()
        for thread in threads:
            thread.join(timeout=30)
        return errors


class _Gated:
    def __init__(self, target: Any, interleaving: Interleaving, wrap_results: bool) -> None:
        self._target, self._interleaving, self._wrap_results = target, interleaving, wrap_results

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._target, name)
        if not callable(attribute):
            return attribute

        def call(*args: Any, **kwargs: Any) -> Any:
            self._interleaving.gate()
            result = attribute(*args, **kwargs)
            return gated(result, self._interleaving) if self._wrap_results else result

        return call


def gated(target: Any, interleaving: Interleaving, *, wrap_results: bool = False) -> Any:
    """``target`` with a gate before every method call (``wrap_results``: the objects its methods return
    are gated too, e.g. the providers a registry hands out)."""
    return _Gated(target, interleaving, wrap_results)
