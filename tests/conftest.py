"""Shared test setup: the environment for calsync, and the local stack (started only when asked for).

The ports of the stack are picked and the full environment is put into ``os.environ`` at import time,
before any test module imports calsync: ``calsync.store.tables`` reads the DynamoDB endpoint and the
table names when it is first imported. Unit tests therefore see a complete, harmless environment
(every endpoint is 127.0.0.1) and start nothing; the stack starts the first time a test asks for
the ``stack`` fixture, once per session.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from devstack.stack import LocalStack, StackPorts, StackResources, apply_env, stack_env
from tests.support import aws_calls
from tests.support.template import load_template, resources_of_type

pytest_plugins = ["tests.support.simulators"]  # the Google and Microsoft simulators (google_sim, microsoft_sim)

STACK_PORTS = StackPorts.pick()
apply_env(stack_env(STACK_PORTS))
# every AWS call is recorded with the function whose code path made it (tests/infrastructure/test_least_privilege.py)
aws_calls.install({function_id: function["Properties"]["CodeUri"] for function_id, function
                   in resources_of_type(load_template(), "AWS::Serverless::Function").items()})

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


@pytest.fixture(autouse=True)
def _name_the_test_in_recorded_calls(request: pytest.FixtureRequest) -> Iterator[None]:
    aws_calls.RECORDER.current_test = request.node.nodeid
    yield
    aws_calls.RECORDER.current_test = None


@pytest.fixture
def tenant_id() -> str:
    """A tenant id no other test uses, so tests share the stack without seeing each other's data."""
    return f"t-{uuid.uuid4().hex[:16]}"


INTEGRATION_MODULES = frozenset((Path(__file__).parent / "integration").glob("test_*.py"))


@pytest.hookimpl(trylast=True)  # after -m / -k have deselected what they deselect
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked ``after_integration`` compare the whole integration run with the template: they go last,
    and only into a session that runs every integration module (elsewhere they are deselected, not skipped)."""
    measured = [item for item in items if item.get_closest_marker("after_integration")]
    if not measured:
        return
    rest = [item for item in items if not item.get_closest_marker("after_integration")]
    if {Path(item.path) for item in rest} >= INTEGRATION_MODULES:
        items[:] = rest + measured
    else:
        items[:] = rest
        config.hook.pytest_deselected(items=measured)


def pytest_sessionfinish(session: pytest.Session) -> None:
    """``CALSYNC_RECORDED_CALLS=<file>`` keeps what the functions' code paths called, one JSON line per call."""
    target = os.environ.get("CALSYNC_RECORDED_CALLS")
    if target:
        with open(target, "w", encoding="utf-8") as out:
            for call in aws_calls.calls():
                if call.function:
                    out.write(json.dumps({"function": call.function, "action": call.action,
                                          "params": dict(call.params), "assumed": bool(aws_calls.assumed(
                                              call.access_key)), "test": call.test}, default=str) + "\n")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for local_stack in _started:
        if local_stack.startup_seconds is not None:
            terminalreporter.write_line(f"local stack started in {local_stack.startup_seconds:.2f} s")
