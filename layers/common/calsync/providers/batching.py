"""Provider writes gathered into the provider's batch requests: the backfill's workers each write one event,
as any sync does, and the :class:`Coalescer` in front of the provider sends what they wrote at about the
same time as one batch (Google's batch endpoint, Graph's JSON batching).

Each write of a batch gets its own answer. A batch carries only the *first* request a single write would
send (an insert, an update with the known ETag, a delete); when that request's answer is anything but done
(an id already taken, an ETag that moved, an event already gone) the write is finished by the provider's
ordinary single-request path, in the writer's own thread: the batch is an optimisation of the common case,
never a second implementation of the protocol. A failure of one inner request (429, 5xx, a refusal) is that
write's failure only, raised in its writer's thread, so the engine records it as for any sync.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from calsync.domain.event import CalendarEvent, EventKey, Written
from calsync.providers.base import CalendarProvider


@dataclass(frozen=True)
class Write:
    """One provider write: ``upsert`` (with the event) or ``delete``."""

    kind: Literal["upsert", "delete"]
    key: EventKey
    event: CalendarEvent | None
    known: Written | None


class Fallback:
    """A batch answer meaning: finish this write with the single-request path."""


FALLBACK = Fallback()

Outcome = Written | None | Fallback | BaseException
"""What a batch says about one write: what was written, nothing (a delete), do it singly, or its failure."""


class BatchProvider(CalendarProvider, Protocol):
    batch_limit: int
    """The most writes one batch request may carry."""

    def write_batch(self, writes: Sequence[Write]) -> list[Outcome]:
        """Sends the first request of each write in one batch; one outcome per write, in order."""
        ...


def batches(provider: CalendarProvider) -> bool:
    return callable(getattr(provider, "write_batch", None)) and int(getattr(provider, "batch_limit", 1)) > 1


@dataclass
class _Slot:
    write: Write
    leading: bool = False
    done: bool = False
    outcome: Outcome = None


class Coalescer:
    """A provider that gathers the writes of concurrent callers into batches of at most ``size``.

    The first writer of a batch leads it: it waits until the batch is full, or until every writer the caller
    said to :meth:`expect` has either written or :meth:`finished` without writing, or at most ``linger``;
    then it sends the batch. The others wait for their own outcome (the first of any writes left over leads
    the next batch). One batch request is in flight at a time per coalescer."""

    def __init__(self, inner: BatchProvider, size: int | None = None, linger: float = 1.0) -> None:
        self.inner = inner
        self.name = inner.name
        self.size = max(1, min(size or inner.batch_limit, inner.batch_limit))
        self.linger = linger
        self._lock = threading.Condition()
        self._open: list[_Slot] = []
        self._sending = threading.Lock()
        self._expected = 0
        self._wrote = threading.local()
        self.batches_sent = 0

    def expect(self, writers: int) -> None:
        """``writers`` more callers will each write once or call :meth:`finished` without writing."""
        with self._lock:
            self._expected += writers

    def finished(self) -> None:
        """Called by an expected writer when its work is over: if it never wrote, no batch waits for it."""
        wrote = getattr(self._wrote, "value", False)
        self._wrote.value = False
        if not wrote:
            with self._lock:
                self._expected -= 1
                self._lock.notify_all()

    def upsert(self, key: EventKey, event: CalendarEvent, known: Written | None) -> Written:
        outcome = self._submit(Write("upsert", key, event, known))
        if isinstance(outcome, Fallback):
            return self.inner.upsert(key, event, known)
        if isinstance(outcome, BaseException):
            raise outcome
        assert outcome is not None
        return outcome

    def delete(self, key: EventKey, known: Written | None) -> None:
        outcome = self._submit(Write("delete", key, None, known))
        if isinstance(outcome, Fallback):
            self.inner.delete(key, known)
        elif isinstance(outcome, BaseException):
            raise outcome

    def _submit(self, write: Write) -> Outcome:
        slot = _Slot(write)
        self._wrote.value = True
        with self._lock:
            self._expected -= 1
            slot.leading = not self._open
            self._open.append(slot)
            self._lock.notify_all()
            while not slot.leading and not slot.done:
                self._lock.wait()
            if slot.done:
                return slot.outcome
            deadline = time.monotonic() + self.linger
            while (len(self._open) < self.size and self._expected > 0
                   and (left := deadline - time.monotonic()) > 0):
                self._lock.wait(left)
            taken, self._open = self._open[:self.size], self._open[self.size:]
            if self._open:
                self._open[0].leading = True
                self._lock.notify_all()
        self._send(taken)
        return slot.outcome

    def _send(self, slots: list[_Slot]) -> None:
        with self._sending:  # one batch request at a time
            try:
                outcomes: list[Outcome] = self.inner.write_batch([s.write for s in slots])
                self.batches_sent += 1
            except BaseException as failure:  # the batch itself failed: every write in it did
                outcomes = [failure] * len(slots)
        with self._lock:
            for slot, outcome in zip(slots, outcomes, strict=True):
                slot.outcome, slot.done = outcome, True
            self._lock.notify_all()
