"""The whole calsync deployment, running locally: one way to run it, used by ``make serve``, ``make demo``
and the integration tests.

What ``template.yaml`` deploys, built from the template itself (``devstack.blueprint``):

- the stack (DynamoDB Local, moto for EventBridge/SQS/Secrets Manager, Radicale) with the template's tables,
  bus, rule and queues (``devstack.stack``);
- every function, in-process (``devstack.functions``), run as deployed: each SQS mapping's function on its
  queue (``devstack.lambda_runner``), each scheduled function on its schedule (``devstack.schedule``), each
  ``HttpApi`` route on the local HTTP API (``devstack.local_api``);
- the Google and Microsoft simulators, told the local API's webhook base URL;
- a console to invoke a function now and to look into and switch the simulators (``devstack.console``).

    with Deployment(DeploymentPorts.pick()) as deployment:   # everything started; workers running
        deployment.api.base_url, deployment.console.base_url, deployment.stack.ports ...

``workers=False`` leaves the queue pollers and schedules off, for callers that drive them
(:meth:`Deployment.drain`, :meth:`Deployment.run_schedule_now`): the demo and the tests.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Mapping
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from devstack import DevstackError, figures
from devstack.blueprint import Blueprint, blueprint
from devstack.console import Console
from devstack.function_logs import LOCAL_LOGS_VARIABLE, LogGroups
from devstack.functions import LocalFunction, Wrapper
from devstack.lambda_runner import BatchOutcome, DrainResult, SqsEventSource
from devstack.local_api import LocalApi, LocalIdentity, local_identity
from devstack.ports import choose_ports, port_is_free
from devstack.schedule import Schedule, scheduled_event
from devstack.sims.google import GoogleCalendarSimulator
from devstack.sims.microsoft import MicrosoftGraphSimulator
from devstack.stack import ACCOUNT_ID, CHANGES_QUEUE, REGION, LocalStack, StackPorts, apply_env, queue_url, stack_env

log = logging.getLogger("devstack")

PART_NAMES = ("DynamoDB Local", "moto server", "Radicale", "local HTTP API", "console")


class PortsBusyError(DevstackError):
    """A port the deployment was told to use is taken (most often: it is already running)."""


@dataclass(frozen=True)
class DeploymentPorts:
    dynamodb: int
    moto: int
    radicale: int
    api: int
    console: int

    @classmethod
    def pick(cls, preferred: DeploymentPorts | None = None, *, strict: bool = False) -> DeploymentPorts:
        """Free loopback ports: ``preferred`` where free; with ``strict``, a busy preferred port is an error
        that names it (two deployments cannot share ports, and silently moving would break bookmarks)."""
        wanted: list[int | None] = list(preferred.as_tuple()) if preferred else [None] * len(PART_NAMES)
        if strict and preferred is not None:
            busy = [f"{port} ({name})" for name, port in zip(PART_NAMES, preferred.as_tuple(), strict=True)
                    if not port_is_free(port)]
            if busy:
                raise PortsBusyError(
                    f"port {', '.join(busy)} already in use on 127.0.0.1: is calsync already running "
                    "(another `make serve`)? Stop it with Ctrl-C in its terminal, or start this one on "
                    "free ports (`make serve SERVE_ARGS=--free-ports`)")
        return cls(*choose_ports(wanted))

    def as_tuple(self) -> tuple[int, int, int, int, int]:
        return (self.dynamodb, self.moto, self.radicale, self.api, self.console)

    @property
    def stack(self) -> StackPorts:
        return StackPorts(self.dynamodb, self.moto, self.radicale)


class Deployment:
    """Everything template.yaml deploys, on loopback, in this process (plus the stack's child servers)."""

    def __init__(self, ports: DeploymentPorts | None = None, *, time_scale: float = 1.0,
                 schedule_period_seconds: float | None = None, simulators: bool = True,
                 wrapper: Wrapper | None = None, radicale_users: Mapping[str, str] | None = None,
                 plan: Blueprint | None = None) -> None:
        self.ports = ports or DeploymentPorts.pick()
        self.blueprint = plan or blueprint()
        self.time_scale = time_scale
        self.schedule_period_seconds = schedule_period_seconds
        self.stack = LocalStack(self.ports.stack, radicale_users=radicale_users, time_scale=time_scale)
        self.logs = LogGroups(self.stack.root / "function-logs")  # removed with the stack's temp folder
        self.functions = {logical_id: LocalFunction(spec, region=REGION, account_id=ACCOUNT_ID, wrapper=wrapper,
                                                    logs=self.logs)
                          for logical_id, spec in self.blueprint.functions.items()}
        self.google: GoogleCalendarSimulator | None = GoogleCalendarSimulator() if simulators else None
        self.microsoft: MicrosoftGraphSimulator | None = MicrosoftGraphSimulator() if simulators else None
        self.api = LocalApi(self.functions, routes=self.blueprint.routes, port=self.ports.api, region=REGION,
                            account_id=ACCOUNT_ID)
        self.console = Console(self.functions, self.simulators, port=self.ports.console,
                               events_for={s.function: self._schedule_event_factory(s.function)
                                           for s in self.blueprint.schedules},
                               figures=lambda: figures.collect(self))
        self.sources: dict[str, SqsEventSource] = {}
        self.schedules: dict[str, Schedule] = {}
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._exit = ExitStack()
        self._started = False

    @property
    def simulators(self) -> dict[str, Any]:
        sims: dict[str, Any] = {}
        if self.google is not None:
            sims["google"] = self.google
        if self.microsoft is not None:
            sims["microsoft"] = self.microsoft
        return sims

    def env(self) -> dict[str, str]:
        """The functions' environment: the stack's, with feed URLs, connect links and OAuth redirect URIs on
        the local API; and what only the operator's ``calsync`` command reads (the change queues, where the
        functions' logs are kept)."""
        rule_dlq = next(t.dead_letter_queue for r in self.blueprint.rules for t in r.targets if t.dead_letter_queue)
        return {**stack_env(self.ports.stack), **self._local_urls(),
                LOCAL_LOGS_VARIABLE: str(self.logs.folder),
                "CALSYNC_CHANGES_QUEUE_URL": queue_url(self.ports.stack, CHANGES_QUEUE.name),
                "CALSYNC_RULE_DEAD_LETTER_QUEUE_URL": queue_url(self.ports.stack, self.blueprint.queues[rule_dlq].name)}

    def _local_urls(self) -> dict[str, str]:
        """Feed URLs, connect links and OAuth redirect URIs on the local API."""
        return {"CALSYNC_FEED_BASE_URL": self.api.base_url, "CALSYNC_PUBLIC_BASE_URL": self.api.base_url}

    def operator_env_file(self) -> Path:
        """Writes (in the deployment's temp folder, gone when it stops) the environment ``calsync --env-file``
        reads: everything the functions and the operator commands need to reach this deployment."""
        path = self.stack.root / "calsync.env"
        chosen = {name: value for name, value in os.environ.items()
                  if name.startswith(("AWS_", "CALSYNC_", "POWERTOOLS_")) or name == "SSL_CERT_FILE"}
        path.write_text("".join(f"{name}={value}\n" for name, value in sorted(chosen.items())), encoding="utf-8")
        path.chmod(0o600)
        return path

    # -- lifecycle ----------------------------------------------------------------------------------

    def start(self, *, workers: bool = True) -> Self:
        """Starts every part; on any failure stops what had started. ``workers``: poll the queues and run
        the schedules in the background (off: the caller drives them). Started once; later calls return it."""
        if self._started:
            return self
        self._started = True
        try:
            apply_env(self.env())
            for sim in self.simulators.values():
                self._exit.enter_context(sim)
                sim.webhook_base_url = f"{self.api.base_url}/webhooks"
            if self.google is not None and self.microsoft is not None:
                # calsync's provider endpoints (deployment settings) on the simulators, in local-development
                # mode, and their CA trusted: before calsync reads its settings or makes HTTP clients
                from devstack.oauth_clinicians import simulator_env

                os.environ.update(simulator_env(self.google, self.microsoft))
            self._exit.enter_context(self.stack)
            resources = self.stack.create_resources()
            os.environ.update(self._local_urls())  # the stack's env has the template's (empty) public base URL
            from calsync.core.settings import get_settings

            get_settings.cache_clear()
            if self.simulators:
                from devstack.oauth_clinicians import register_connect_clients

                register_connect_clients(self.stack, self.api.base_url, self.google, self.microsoft)
            self._exit.enter_context(self.api)
            self._exit.enter_context(self.console)
            sqs = self.stack.client("sqs")
            for mapping in self.blueprint.mappings:
                function = self.functions[mapping.function]
                self.sources[mapping.function] = SqsEventSource(
                    sqs, resources.queue_urls[mapping.queue], function, batch_size=mapping.batch_size,
                    function_name=function.name, memory_limit_in_mb=function.spec.memory_mb,
                    timeout_seconds=function.spec.timeout_seconds, region=REGION, account_id=ACCOUNT_ID)
            for spec in self.blueprint.schedules:
                if spec.period_seconds is not None:
                    period = self.schedule_period_seconds or spec.period_seconds / self.time_scale
                    self.schedules[spec.function] = Schedule(self.functions[spec.function], period,
                                                             self._schedule_event_factory(spec.function))
            if workers:
                self._start_workers()
        except BaseException:
            self.stop()
            raise
        return self

    def _start_workers(self) -> None:
        for logical_id, source in self.sources.items():
            def poll(source: SqsEventSource = source, name: str = self.functions[logical_id].name) -> None:
                source.run(self._stop, on_batch=lambda outcome: _report_batch(name, outcome))

            thread = threading.Thread(target=poll, name=f"queue-{logical_id}", daemon=True)
            thread.start()
            self._threads.append(thread)
        for schedule in self.schedules.values():
            schedule.start()

    def stop(self) -> None:
        """Stops the workers, then every server (listening sockets closed, temp folders removed); idempotent."""
        self._stop.set()
        for schedule in self.schedules.values():
            schedule.stop()
        for thread in self._threads:
            thread.join(timeout=10)
        self._threads.clear()
        self._exit.close()
        for sim in self.simulators.values():
            sim.stop()  # also when start() failed before entering it: removes its temp folder
        self.api.stop()
        self.console.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.stop()

    def check_alive(self) -> None:
        self.stack.check_alive()

    # -- driving it (demo, tests, console) -------------------------------------------------------------

    def source(self, function: str = "OnAppointmentChangeFunction", *, batch_size: int | None = None) -> SqsEventSource:
        """The queue runner of ``function`` (its SQS mapping in the template), or one like it taking
        ``batch_size`` messages at a time."""
        source = self.sources[function]
        if batch_size is None:
            return source
        return SqsEventSource(source.sqs, source.queue_url, self.functions[function], batch_size=batch_size,
                              function_name=self.functions[function].name,
                              memory_limit_in_mb=self.functions[function].spec.memory_mb,
                              timeout_seconds=self.functions[function].spec.timeout_seconds, region=REGION,
                              account_id=ACCOUNT_ID)

    def drain(self, function: str = "OnAppointmentChangeFunction", *, batch_size: int | None = None,
              max_seconds: float = 120.0) -> DrainResult:
        """Runs ``function`` on its queue until the queue is empty (failed messages are waited for)."""
        return self.source(function, batch_size=batch_size).drain(max_seconds=max_seconds)

    def run_schedule_now(self, function: str = "RetrySweeperFunction") -> Any:
        return self.schedules[function].run_now()

    def identity(self, tenant_id: str) -> LocalIdentity:
        """The local signing identity of a tenant for ``AWS_IAM`` routes (registered with the API)."""
        identity = local_identity(tenant_id, ACCOUNT_ID)
        self.api.add_identity(identity)
        return identity

    def _schedule_event_factory(self, function: str) -> Callable[[], dict[str, Any]]:
        spec = next(s for s in self.blueprint.schedules if s.function == function)
        rule = f"arn:aws:events:{REGION}:{ACCOUNT_ID}:rule/{self.functions[function].name}-{spec.event_name}"
        return lambda: scheduled_event(rule, REGION, ACCOUNT_ID)


def _report_batch(name: str, outcome: BatchOutcome) -> None:
    log.info("%s: %d done, %d back to the queue (visible again after its visibility timeout)", name,
             len(outcome.succeeded), len(outcome.failed))
