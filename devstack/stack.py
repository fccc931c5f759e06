"""The whole local stack: DynamoDB Local, moto server and Radicale on 127.0.0.1, and the env calsync reads.

Ports are picked *before* anything starts (:meth:`StackPorts.pick`), because pynamodb reads the
DynamoDB endpoint when ``calsync.store.tables`` is first imported: the environment must be final by then.

    with LocalStack() as stack:          # starts all three servers at once, stops them on any exit
        stack.apply_env()                # os.environ now points calsync at the stack
        resources = stack.create_resources()
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import secrets
import shutil
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, Self, overload

import boto3
from botocore.config import Config

from devstack import DevstackError
from devstack.dynamodb_local import DynamoDBLocal
from devstack.moto_server import MotoServer
from devstack.ports import LOOPBACK, choose_ports
from devstack.radicale_server import RadicaleServer

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_secretsmanager import SecretsManagerClient
    from mypy_boto3_sqs import SQSClient

log = logging.getLogger("devstack")

REGION = "us-east-1"
ACCOUNT_ID = "123456789012"  # moto's default account
FAKE_CREDENTIAL = "testing"
EVENT_BUS_NAME = "calsync-local"
CHANGES_RULE_NAME = "calsync-appointment-changed"
CHANGES_QUEUE_NAME = "calsync-changes"
CHANGES_DLQ_NAME = "calsync-changes-dlq"
MAX_RECEIVE_COUNT = 3
QUEUE_VISIBILITY_SECONDS = 30
CHANGES_EVENT_PATTERN: dict[str, Any] = {
    "detail-type": ["Appointment Changed"],
    "source": [{"prefix": "ehr."}],
}
TABLE_NAMES = {
    "CALSYNC_APPOINTMENTS_TABLE": "calsync-appointments",
    "CALSYNC_INTEGRATIONS_TABLE": "calsync-integrations",
    "CALSYNC_LEDGER_TABLE": "calsync-ledger",
    "CALSYNC_FEEDS_TABLE": "calsync-feeds",
    "CALSYNC_FEED_TOKENS_TABLE": "calsync-feed-tokens",
    "CALSYNC_FEED_EVENTS_TABLE": "calsync-feed-events",
    "CALSYNC_PLATFORM_INTAKE_TABLE": "calsync-platform-intake",
}
# Settings that would send boto3 somewhere else than the stack (a profile, a session, a config file).
_FOREIGN_AWS_VARIABLES = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN")


@dataclass(frozen=True)
class StackPorts:
    """The caller-side loopback port of each server."""

    dynamodb: int
    moto: int
    radicale: int

    @classmethod
    def pick(cls, dynamodb: int | None = None, moto: int | None = None, radicale: int | None = None) -> StackPorts:
        """The given ports where free, free ones otherwise."""
        chosen = choose_ports([dynamodb, moto, radicale])
        return cls(dynamodb=chosen[0], moto=chosen[1], radicale=chosen[2])

    @property
    def dynamodb_endpoint(self) -> str:
        return f"http://{LOOPBACK}:{self.dynamodb}"

    @property
    def moto_endpoint(self) -> str:
        return f"http://{LOOPBACK}:{self.moto}"

    @property
    def radicale_url(self) -> str:
        return f"http://{LOOPBACK}:{self.radicale}"


def queue_url(ports: StackPorts, name: str) -> str:
    """The URL moto gives a queue (deterministic, so it can go into the env before the queue exists)."""
    return f"{ports.moto_endpoint}/{ACCOUNT_ID}/{name}"


def stack_env(ports: StackPorts) -> dict[str, str]:
    """The environment calsync code needs to run against the stack on ``ports``."""
    return {
        "AWS_ENDPOINT_URL": ports.moto_endpoint,  # boto3 honours it natively
        "AWS_ENDPOINT_URL_DYNAMODB": ports.dynamodb_endpoint,  # plain boto3 DynamoDB clients too
        "AWS_ENDPOINT_URL_DYNAMODB_STREAMS": ports.dynamodb_endpoint,
        "CALSYNC_DYNAMODB_ENDPOINT": ports.dynamodb_endpoint,  # pynamodb's Meta.host
        "AWS_ACCESS_KEY_ID": FAKE_CREDENTIAL,
        "AWS_SECRET_ACCESS_KEY": FAKE_CREDENTIAL,
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_EC2_METADATA_DISABLED": "true",
        **TABLE_NAMES,
        "CALSYNC_EVENT_BUS_NAME": EVENT_BUS_NAME,
        "CALSYNC_DEAD_LETTER_QUEUE_URL": queue_url(ports, CHANGES_DLQ_NAME),
        "POWERTOOLS_METRICS_NAMESPACE": "CalSync",
        "POWERTOOLS_SERVICE_NAME": "calsync",
        "POWERTOOLS_TRACE_DISABLED": "1",
        "CALSYNC_LOCAL_DEVELOPMENT": "1",  # booking-platform simulators and ICS exports on http://127.0.0.1
    }


def apply_env(env: Mapping[str, str]) -> None:
    """Puts ``env`` into ``os.environ`` and drops AWS settings that could point elsewhere."""
    for name in _FOREIGN_AWS_VARIABLES:
        os.environ.pop(name, None)
    os.environ.update(env)


@dataclass(frozen=True)
class QueuePair:
    """A queue and the dead-letter queue SQS moves its messages to after ``max_receive_count`` receives."""

    url: str
    arn: str
    dlq_url: str
    dlq_arn: str


@dataclass(frozen=True)
class StackResources:
    event_bus_name: str
    event_bus_arn: str
    rule_arn: str
    changes: QueuePair


class LocalStack:
    """Starts DynamoDB Local, moto server and Radicale on ``ports`` (all three at once); stops them on exit."""

    def __init__(self, ports: StackPorts | None = None, *, radicale_users: Mapping[str, str] | None = None) -> None:
        self.ports = ports or StackPorts.pick()
        # named now, created by start(): a stack that never starts leaves nothing behind
        self._root = Path(tempfile.gettempdir()) / f"calsync-devstack-{os.getpid()}-{secrets.token_hex(4)}"
        log_dir = self._root / "logs"
        self.dynamodb = DynamoDBLocal(self.ports.dynamodb, log_dir=log_dir)
        self.moto = MotoServer(self.ports.moto, log_dir=log_dir)
        self.radicale = RadicaleServer(self.ports.radicale, root=self._root / "radicale", log_dir=log_dir)
        for username, password in (radicale_users or {}).items():
            self.radicale.add_user(username, password)
        self.startup_seconds: float | None = None
        self._resources: StackResources | None = None
        self._clients: dict[str, Any] = {}
        self._started = False

    # -- lifecycle ----------------------------------------------------------------------------------

    def start(self) -> Self:
        """Launches the three servers together, then waits for each; on any failure stops all of them."""
        began = time.monotonic()
        servers = (self.dynamodb, self.moto, self.radicale)
        atexit.register(self.stop)
        self._started = True
        try:
            self._root.mkdir(mode=0o700)
            for server in servers:
                server.launch()
            for server in servers:
                server.wait_ready()
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.monotonic() - began
        log.info(
            "local stack ready in %.2f s (dynamodb %s, moto %s, radicale %s)",
            self.startup_seconds,
            self.ports.dynamodb_endpoint,
            self.ports.moto_endpoint,
            self.ports.radicale_url,
        )
        return self

    def stop(self) -> None:
        """Stops every server by PID and removes the temp folder; safe to call more than once."""
        if not self._started:
            return
        self._started = False
        atexit.unregister(self.stop)
        for client in self._clients.values():
            client.close()
        self._clients.clear()
        for server in (self.radicale, self.moto, self.dynamodb):
            try:
                server.stop()
            except Exception:
                log.exception("could not stop %s cleanly", server.name)
        shutil.rmtree(self._root, ignore_errors=True)

    def check_alive(self) -> None:
        """Raises (with the end of its log) if any server has exited."""
        for server in (self.dynamodb, self.moto, self.radicale):
            server.check_alive()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()

    # -- environment and clients --------------------------------------------------------------------

    def env(self) -> dict[str, str]:
        return stack_env(self.ports)

    def apply_env(self) -> None:
        apply_env(self.env())

    @overload
    def client(self, service: Literal["dynamodb"]) -> DynamoDBClient: ...
    @overload
    def client(self, service: Literal["events"]) -> EventBridgeClient: ...
    @overload
    def client(self, service: Literal["sqs"]) -> SQSClient: ...
    @overload
    def client(self, service: Literal["secretsmanager"]) -> SecretsManagerClient: ...
    @overload
    def client(self, service: str) -> Any: ...

    def client(self, service: str) -> Any:
        """A boto3 client on the stack (one per service, reused): DynamoDB Local for DynamoDB, moto for the rest."""
        if service not in self._clients:
            endpoint = self.ports.dynamodb_endpoint if service == "dynamodb" else self.ports.moto_endpoint
            self._clients[service] = boto3.client(
                service,  # type: ignore[call-overload]
                endpoint_url=endpoint,
                region_name=REGION,
                aws_access_key_id=FAKE_CREDENTIAL,
                aws_secret_access_key=FAKE_CREDENTIAL,
                config=Config(retries={"max_attempts": 2, "mode": "standard"}),
            )
        return self._clients[service]

    @property
    def resources(self) -> StackResources:
        """What :meth:`create_resources` made (raises before that)."""
        if self._resources is None:
            raise DevstackError("no resources yet: call create_resources() first")
        return self._resources

    # -- resources ----------------------------------------------------------------------------------

    def create_resources(self) -> StackResources:
        """Tables (from the pynamodb models), the custom bus, its rule and the changes queue + DLQ.

        Idempotent. Puts :meth:`env` into ``os.environ`` first, since the table models read it on import.
        """
        self.apply_env()
        from calsync.settings import get_settings  # here, not at the top: the env must be in place first
        from calsync.store import platform_intake, tables

        if get_settings().dynamodb_endpoint != self.ports.dynamodb_endpoint:
            raise DevstackError(
                "calsync.store.tables was imported before the stack env was applied; "
                "put LocalStack.env() (or stack_env(ports)) into os.environ before importing calsync"
            )
        tables.create_all()
        platform_intake.create_table()

        events = self.client("events")
        try:
            bus_arn = events.create_event_bus(Name=EVENT_BUS_NAME)["EventBusArn"]
        except events.exceptions.ResourceAlreadyExistsException:
            bus_arn = events.describe_event_bus(Name=EVENT_BUS_NAME)["Arn"]
        changes = self.create_queue_pair(CHANGES_QUEUE_NAME, CHANGES_DLQ_NAME)
        rule_arn = events.put_rule(
            Name=CHANGES_RULE_NAME,
            EventBusName=EVENT_BUS_NAME,
            EventPattern=json.dumps(CHANGES_EVENT_PATTERN),
            State="ENABLED",
            Description="EHR appointment changes to the calsync changes queue",
        )["RuleArn"]
        events.put_targets(
            Rule=CHANGES_RULE_NAME, EventBusName=EVENT_BUS_NAME, Targets=[{"Id": "changes-queue", "Arn": changes.arn}]
        )
        if changes.dlq_url != self.env()["CALSYNC_DEAD_LETTER_QUEUE_URL"]:
            raise DevstackError(f"moto named the DLQ {changes.dlq_url}, not the URL in the env")
        self._resources = StackResources(EVENT_BUS_NAME, bus_arn, rule_arn, changes)
        return self._resources

    def create_queue_pair(self, name: str, dlq_name: str, *, max_receive_count: int = MAX_RECEIVE_COUNT) -> QueuePair:
        """A standard queue whose RedrivePolicy sends a message to ``dlq_name`` after ``max_receive_count`` receives."""
        sqs = self.client("sqs")
        dlq_url = sqs.create_queue(QueueName=dlq_name, Attributes={"MessageRetentionPeriod": "1209600"})["QueueUrl"]
        dlq_arn = _queue_arn(sqs, dlq_url)
        redrive = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(max_receive_count)})
        url = sqs.create_queue(
            QueueName=name,
            Attributes={"VisibilityTimeout": str(QUEUE_VISIBILITY_SECONDS), "RedrivePolicy": redrive},
        )["QueueUrl"]
        return QueuePair(url=url, arn=_queue_arn(sqs, url), dlq_url=dlq_url, dlq_arn=dlq_arn)

    def put_secret(self, name: str, value: str | Mapping[str, Any]) -> str:
        """Stores ``value`` (a dict becomes JSON) as the current version of secret ``name``; returns its ARN."""
        secrets = self.client("secretsmanager")
        text = value if isinstance(value, str) else json.dumps(value)
        try:
            return secrets.create_secret(Name=name, SecretString=text)["ARN"]
        except secrets.exceptions.ResourceExistsException:
            return secrets.put_secret_value(SecretId=name, SecretString=text)["ARN"]


def _queue_arn(sqs: SQSClient, url: str) -> str:
    return sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
