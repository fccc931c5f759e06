"""Everything under ``tests/integration`` runs against the local stack and carries the ``integration`` mark."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.faults import FaultPlan, injected
from tests.support.reliability import Clock, Ehr, reset_sweeper

_HERE = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # pytest calls this hook with every collected item, so keep to the ones under this folder
    for item in items:
        if item.path.is_relative_to(_HERE):
            item.add_marker(pytest.mark.integration)


# -- shared by the reliability tests (failure modes, sweeper, lifecycle) -------------------------------


@pytest.fixture
def clock() -> Clock:
    reset_sweeper()
    return Clock()


@pytest.fixture
def ehr(tenant_id: str, clock: Clock) -> Ehr:
    return Ehr(tenant_id, clock)


@pytest.fixture
def plan() -> Iterator[FaultPlan]:
    with injected(FaultPlan()) as armed:
        yield armed
