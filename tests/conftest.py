"""Shared test setup: the environment for calsync, and the local stack (started only when asked for).

The ports of the stack are picked and the full environment is put into ``os.environ`` at import time,
before any test module imports calsync: ``calsync.store.tables`` reads the DynamoDB endpoint and the
table names when it is first imported. Unit tests therefore see a complete, harmless environment
(every endpoint is 127.0.0.1) and start nothing; the stack starts the first time a test asks for
the ``stack`` fixture, once per session.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from devstack.stack import LocalStack, StackPorts, StackResources, apply_env, stack_env

pytest_plugins = ["tests.provider_sims", "tests.platform_sim"]  # Google, Microsoft and booking-platform simulators

STACK_PORTS = StackPorts.pick()
apply_env(stack_env(STACK_PORTS))

_started: list[LocalStack] = []


@pytest.fixture(scope="session")
def stack() -> Iterator[LocalStack]:
    """DynamoDB Local, moto server and Radicale with the calsync tables, bus, rule and queues created."""
    with LocalStack(ports=STACK_PORTS) as local_stack:
        local_stack.create_resources()
        _started.append(local_stack)
        yield local_stack


@pytest.fixture(scope="session")
def stack_resources(stack: LocalStack) -> StackResources:
    """The bus, rule and queues that the ``stack`` fixture created."""
    return stack.resources


@pytest.fixture
def tenant_id() -> str:
    """A tenant id no other test uses, so tests share the stack without seeing each other's data."""
    return f"t-{uuid.uuid4().hex[:16]}"


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for local_stack in _started:
        if local_stack.startup_seconds is not None:
            terminalreporter.write_line(f"local stack started in {local_stack.startup_seconds:.2f} s")
