"""The retry schedule: 1, 5, 15, 30, 60 minutes with jitter; Retry-After wins when longer; then dead."""

from __future__ import annotations

import datetime as dt
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from calsync.domain.retry_policy import DELAYS_SECONDS, JITTER, MAX_RETRIES, next_attempt

NOW = dt.datetime(2026, 11, 21, 12, tzinfo=dt.UTC)


@pytest.mark.parametrize(("failures", "minutes"), [(1, 1), (2, 5), (3, 15), (4, 30), (5, 60)])
def test_schedule(failures: int, minutes: int) -> None:
    due = next_attempt(failures, NOW, rng=random.Random(1))
    assert due is not None
    delay = (due - NOW).total_seconds()
    assert minutes * 60 * (1 - JITTER) <= delay <= minutes * 60 * (1 + JITTER)


def test_gives_up_after_five_retries() -> None:
    assert MAX_RETRIES == 5
    assert next_attempt(6, NOW) is None


def test_retry_after_wins_when_longer() -> None:
    due = next_attempt(1, NOW, retry_after=600, rng=random.Random(1))
    assert due == NOW + dt.timedelta(seconds=600)


def test_failures_count_from_one() -> None:
    with pytest.raises(ValueError, match="from 1"):
        next_attempt(0, NOW)


@given(st.integers(min_value=1, max_value=MAX_RETRIES), st.floats(min_value=0, max_value=7200),
       st.integers(min_value=0, max_value=2**32))
def test_never_earlier_than_retry_after_nor_outside_jitter(failures: int, retry_after: float, seed: int) -> None:
    due = next_attempt(failures, NOW, retry_after=retry_after, rng=random.Random(seed))
    assert due is not None
    delay = (due - NOW).total_seconds()
    base = DELAYS_SECONDS[failures - 1]
    assert delay >= retry_after - 1e-6
    assert delay <= max(base * (1 + JITTER), retry_after) + 1e-6
