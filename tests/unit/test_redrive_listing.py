"""Listing the dead-letter queue never fails on a letter it cannot read: the handler dead-letters bodies
nested too deep for ``json.loads`` (RecursionError, not ValueError), and the listing must show them."""

from __future__ import annotations

import pytest

from calsync.cli import dead_letters


@pytest.mark.parametrize("body", ["[" * 100_000, "not json", "[1, 2]", '{"detail": 5}', ""])
def test_an_unreadable_letter_is_listed_as_unreadable(body: str) -> None:
    assert dead_letters.appointment_of(body) == "(unreadable)"
