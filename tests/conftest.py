"""Shared test setup: the environment for calsync, and the local deployment (started only when asked for).

The ports of the deployment are picked and the full environment is put into ``os.environ`` at import time,
before any test module imports calsync: ``calsync.store.tables`` reads the DynamoDB endpoint and the
table names when it is first imported. Unit tests therefore see a complete, harmless environment
(every endpoint is 127.0.0.1) and start nothing; the deployment starts the first time a test asks for
the ``deployment`` or ``stack`` fixture, once per session. It is the one ``make serve`` and ``make demo``
run (``devstack.deployment``), with its workers off: tests drive the queue and the schedule themselves,
and the simulators come from ``tests.provider_sims``.

Every queue duration of the template is divided by ``TIME_SCALE`` (the changes queue's 360 s visibility
timeout becomes 6 s), so a redelivery is waited for without waiting minutes.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from dataclasses import fields
from pathlib import Path

import pytest

from devstack.cfn_template import load_template, resources_of_type
from devstack.deployment import Deployment, DeploymentPorts
from devstack.stack import LocalStack, StackResources, apply_env, stack_env
from tests.support import aws_calls

# the Google and Microsoft simulators (google_sim, microsoft_sim); the simulators as the connect page's providers
pytest_plugins = ["tests.support.simulators", "tests.support.connect"]

PORTS = DeploymentPorts.pick()
apply_env(stack_env(PORTS.stack))
TIME_SCALE = 60
# every AWS call is recorded with the function whose code path made it (tests/infrastructure/test_least_privilege.py)
aws_calls.install({function_id: function["Properties"]["CodeUri"] for function_id, function
                   in resources_of_type(load_template(), "AWS::Serverless::Function").items()})

from calsync.core.settings import Settings  # noqa: E402 - reads nothing at import; after the env all the same

_LEASE_DEFAULT: object = next(f.default for f in fields(Settings) if f.name == "lease_seconds")
assert isinstance(_LEASE_DEFAULT, int)
ENGINE_LEASE_SECONDS = _LEASE_DEFAULT
"""The engine's lease as deployed (template.yaml does not set CALSYNC_LEASE_SECONDS)."""

_started: list[Deployment] = []


def current_deployment() -> Deployment:
    """The session's running deployment (for helpers that are not fixtures)."""
    assert _started, "ask for the deployment (or stack) fixture first"
    return _started[0]


@pytest.fixture(scope="session")
def deployment() -> Iterator[Deployment]:
    """The whole local deployment of template.yaml, workers off, simulators from ``tests.provider_sims``."""
    with Deployment(PORTS, time_scale=TIME_SCALE, simulators=False).start(workers=False) as running:
        _started.append(running)
        yield running


@pytest.fixture(scope="session")
def stack(deployment: Deployment) -> LocalStack:
    """DynamoDB Local, moto server and Radicale with the calsync tables, bus, rule and queues created."""
    return deployment.stack


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
    for running in _started:
        if running.stack.startup_seconds is not None:
            terminalreporter.write_line(f"local stack started in {running.stack.startup_seconds:.2f} s")
