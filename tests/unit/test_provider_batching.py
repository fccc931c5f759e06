"""The :class:`~calsync.providers.batching.Coalescer`: concurrent writers' writes go out as batches of at most
the provider's limit, each writer gets its own outcome (written, a failure of its own, or the single path),
a batch waits for exactly the writers it was told to expect, and what one batch cannot take leads the next."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Sequence

import pytest

from calsync.core.errors import ProviderRateLimitedError
from calsync.domain.event import CalendarEvent, EventKey, Written
from calsync.providers.batching import FALLBACK, Coalescer, Outcome, Write

START = dt.datetime(2027, 1, 5, 14, tzinfo=dt.UTC)
EVENT = CalendarEvent(summary="Busy", description="", location=None, start=START,
                      end=START + dt.timedelta(minutes=30), timezone="UTC", all_day=False)


class Recorder:
    """A batch provider that answers from a script and records every request it gets."""

    name = "recorder"
    batch_limit = 5

    def __init__(self, answer: dict[str, Outcome] | None = None, pause: float = 0.0) -> None:
        self.answer = answer or {}
        self.pause = pause
        self.batches: list[list[str]] = []
        self.singles: list[str] = []
        self.in_flight = self.most_in_flight = 0
        self._lock = threading.Lock()

    def write_batch(self, writes: Sequence[Write]) -> list[Outcome]:
        with self._lock:
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
            self.batches.append([w.key.appointment_id for w in writes])
        time.sleep(self.pause)
        with self._lock:
            self.in_flight -= 1
        return [self.answer.get(w.key.appointment_id, Written(w.key.appointment_id, "1")) for w in writes]

    def upsert(self, key: EventKey, event: CalendarEvent, known: Written | None) -> Written:
        self.singles.append(key.appointment_id)
        return Written(key.appointment_id, "single")

    def delete(self, key: EventKey, known: Written | None) -> None:
        self.singles.append(key.appointment_id)


def key(n: int) -> EventKey:
    return EventKey("int-1", "tenant-1", f"apt-{n}")


def write_concurrently(coalescer: Coalescer, count: int) -> dict[int, object]:
    results: dict[int, object] = {}
    coalescer.expect(count)

    def one(n: int) -> None:
        try:
            results[n] = coalescer.upsert(key(n), EVENT, None)
        except Exception as error:
            results[n] = error
        finally:
            coalescer.finished()

    threads = [threading.Thread(target=one, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    return results


def test_writes_go_out_in_batches_of_at_most_the_limit_one_at_a_time_and_each_gets_its_own_answer() -> None:
    recorder = Recorder(pause=0.01)
    results = write_concurrently(Coalescer(recorder, linger=5.0), 12)
    assert sorted(name for batch in recorder.batches for name in batch) == sorted(f"apt-{n}" for n in range(12))
    assert all(len(batch) <= 5 for batch in recorder.batches) and len(recorder.batches) == 3
    assert recorder.most_in_flight == 1
    assert all(results[n] == Written(f"apt-{n}", "1") for n in range(12))


def test_a_failure_inside_a_batch_is_raised_to_its_own_writer_only() -> None:
    refused = ProviderRateLimitedError("recorder", "http_429", 429, 30.0)
    recorder = Recorder({"apt-2": refused, "apt-3": FALLBACK})
    results = write_concurrently(Coalescer(recorder, linger=5.0), 5)
    assert results[2] is refused
    assert results[3] == Written("apt-3", "single") and recorder.singles == ["apt-3"]
    assert [results[n] for n in (0, 1, 4)] == [Written(f"apt-{n}", "1") for n in (0, 1, 4)]


def test_a_batch_does_not_wait_for_writers_that_finished_without_writing() -> None:
    recorder = Recorder()
    coalescer = Coalescer(recorder, linger=30.0)  # waiting for the linger would fail the test
    coalescer.expect(3)
    coalescer.finished()  # two writers found nothing to write
    coalescer.finished()
    started = time.monotonic()
    assert coalescer.upsert(key(0), EVENT, None) == Written("apt-0", "1")
    coalescer.finished()
    assert time.monotonic() - started < 5 and recorder.batches == [["apt-0"]]


def test_a_batch_request_that_fails_as_a_whole_fails_each_of_its_writes() -> None:
    class Down(Recorder):
        def write_batch(self, writes: Sequence[Write]) -> list[Outcome]:
            raise ProviderRateLimitedError("recorder", "http_503", 503, None)

    results = write_concurrently(Coalescer(Down(), linger=5.0), 4)
    assert all(isinstance(results[n], ProviderRateLimitedError) for n in range(4))


def test_deletes_batch_too_and_a_missing_answer_count_is_a_programming_error() -> None:
    recorder = Recorder()
    coalescer = Coalescer(recorder)
    coalescer.expect(1)
    coalescer.delete(key(1), Written("apt-1", "1"))
    coalescer.finished()
    assert recorder.batches == [["apt-1"]]

    class Short(Recorder):
        def write_batch(self, writes: Sequence[Write]) -> list[Outcome]:
            return []

    short = Coalescer(Short())
    short.expect(1)
    with pytest.raises(ValueError, match="zip"):
        short.upsert(key(2), EVENT, None)
