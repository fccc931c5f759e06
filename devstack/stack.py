"""The whole local stack: DynamoDB Local, moto server and Radicale on 127.0.0.1, and the env calsync reads.

Tables, bus, rule, queues and the functions' environment are read from template.yaml (``devstack.blueprint``);
``time_scale`` divides the queues' durations, so tests can run the template's ratios faster.

Ports are picked *before* anything starts (:meth:`StackPorts.pick`), so the environment calsync reads
(:func:`stack_env`) can be final before any server starts.

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
from devstack.blueprint import LOCAL_ACCOUNT_ID, QueueSpec, blueprint
from devstack.dynamodb_local import DynamoDBLocal
from devstack.moto_server import MotoServer
from devstack.ports import LOOPBACK, choose_ports
from devstack.radicale_server import RadicaleServer

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_events.type_defs import TargetTypeDef
    from mypy_boto3_secretsmanager import SecretsManagerClient
    from mypy_boto3_sqs import SQSClient

log = logging.getLogger("devstack")

REGION = "us-east-1"
ACCOUNT_ID = LOCAL_ACCOUNT_ID
FAKE_CREDENTIAL = "testing"
# Everything below comes from template.yaml (devstack.blueprint): there is no second list to keep in step.
BLUEPRINT = blueprint()
EVENT_BUS_NAME = BLUEPRINT.bus_name
CHANGES_CONSUMER = "OnAppointmentChangeFunction"
CHANGES_QUEUE = BLUEPRINT.queue_consumed_by(CHANGES_CONSUMER)
EHR_SOURCE = "ehr.example"  # the local EHR's event source (devstack.sample_day sends with it)
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


def template_env(ports: StackPorts) -> dict[str, str]:
    """The functions' environment from template.yaml (tables, bus, queues, parameters) on ``ports``."""
    return BLUEPRINT.environment(lambda queue: queue_url(ports, queue.name))


TABLE_NAMES = {name: value for name, value in template_env(StackPorts(0, 0, 0)).items() if name.endswith("_TABLE")}


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
        "POWERTOOLS_TRACE_DISABLED": "1",
        **template_env(ports),
        # the local stack is local development: loopback endpoints (Radicale as "iCloud", the simulators) and
        # plain http are allowed, and nowhere else (calsync.core.settings)
        "CALSYNC_LOCAL_DEVELOPMENT": "true",
        "CALSYNC_ICLOUD_CALDAV_URL": ports.radicale_url,
    }


def scaled_seconds(seconds: int, time_scale: float) -> int:
    """A template duration divided by ``time_scale``, in the whole seconds SQS counts (at least 1). Choose a
    scale that divides the durations that matter (the changes queue's 360 s) so their ratios stay exact."""
    return max(1, round(seconds / time_scale))


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
    changes: QueuePair  # the queue on_appointment_change consumes, and its dead-letter queue
    queue_urls: Mapping[str, str]  # every queue of the template, by logical id


class LocalStack:
    """Starts DynamoDB Local, moto server and Radicale on ``ports`` (all three at once); stops them on exit."""

    def __init__(self, ports: StackPorts | None = None, *, radicale_users: Mapping[str, str] | None = None,
                 time_scale: float = 1.0) -> None:
        self.ports = ports or StackPorts.pick()
        # every queue duration of the template is divided by it (tests run the same ratios faster)
        self.time_scale = time_scale
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

    @property
    def root(self) -> Path:
        """The stack's temp folder (created by :meth:`start`, removed by :meth:`stop`)."""
        return self._root

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
                config=Config(retries={"max_attempts": 2, "mode": "standard"}, signature_version="s3v4")
                if service == "s3" else Config(retries={"max_attempts": 2, "mode": "standard"}),
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
        """Tables (from the pynamodb models), buckets, the bus, its rules and every queue, as template.yaml has them.

        Idempotent. Puts :meth:`env` into ``os.environ`` first, since the table models read it on import.
        """
        self.apply_env()
        from calsync.core.settings import get_settings
        from calsync.store import tables

        get_settings.cache_clear()  # the env changed: read it again, and point the models at this stack
        tables.bind()
        tables.create_all()

        s3 = self.client("s3")
        existing = {bucket["Name"] for bucket in s3.list_buckets().get("Buckets", [])}
        for bucket in BLUEPRINT.buckets.values():
            if bucket not in existing:
                s3.create_bucket(Bucket=bucket)

        events = self.client("events")
        try:
            bus_arn = events.create_event_bus(Name=EVENT_BUS_NAME)["EventBusArn"]
        except events.exceptions.ResourceAlreadyExistsException:
            bus_arn = events.describe_event_bus(Name=EVENT_BUS_NAME)["Arn"]
        # dead-letter queues first: a redrive policy names its target's ARN
        ordered = sorted(BLUEPRINT.queues.values(), key=lambda queue: queue.dead_letter_queue is not None)
        arns: dict[str, str] = {}
        urls: dict[str, str] = {}
        for spec in ordered:
            urls[spec.logical_id], arns[spec.logical_id] = self._create_queue(spec, arns)
        rule_arns = []
        for rule in BLUEPRINT.rules:
            rule_arns.append(events.put_rule(Name=rule.name, EventBusName=EVENT_BUS_NAME,
                                             EventPattern=json.dumps(rule.event_pattern), State="ENABLED")["RuleArn"])
            targets: list[TargetTypeDef] = []
            for target in rule.targets:
                entry: TargetTypeDef = {"Id": target.target_id, "Arn": arns[target.queue]}
                if target.dead_letter_queue is not None:
                    entry["DeadLetterConfig"] = {"Arn": arns[target.dead_letter_queue]}
                targets.append(entry)
            events.put_targets(Rule=rule.name, EventBusName=EVENT_BUS_NAME, Targets=targets)
        self._create_hmac_keys()
        dlq = CHANGES_QUEUE.dead_letter_queue
        assert dlq is not None, "the changes queue has a redrive policy in template.yaml"
        changes = QueuePair(url=urls[CHANGES_QUEUE.logical_id], arn=arns[CHANGES_QUEUE.logical_id],
                            dlq_url=urls[dlq], dlq_arn=arns[dlq])
        for name, value in self.env().items():
            if name.endswith("_QUEUE_URL") and value not in urls.values():
                raise DevstackError(f"moto named the queues differently from {name} in the env ({value})")
        self._resources = StackResources(EVENT_BUS_NAME, bus_arn, rule_arns[0], changes, urls)
        return self._resources

    def _create_hmac_keys(self) -> None:
        """The template's KMS HMAC keys (connect link signatures), each under its alias, in moto."""
        kms = self.client("kms")
        existing = {alias["AliasName"] for alias in kms.list_aliases()["Aliases"]}
        for alias in BLUEPRINT.hmac_key_aliases:
            if alias not in existing:
                key = kms.create_key(KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")["KeyMetadata"]["KeyId"]
                kms.create_alias(AliasName=alias, TargetKeyId=key)

    def _create_queue(self, spec: QueueSpec, arns: Mapping[str, str], *,
                      time_scale: float | None = None) -> tuple[str, str]:
        """One queue of the template, with its durations divided by :attr:`time_scale`; (url, arn)."""
        scale = self.time_scale if time_scale is None else time_scale
        attributes = {"VisibilityTimeout": str(scaled_seconds(spec.visibility_timeout, scale)),
                      "MessageRetentionPeriod": str(spec.retention_seconds)}
        if spec.dead_letter_queue is not None:
            attributes["RedrivePolicy"] = json.dumps({"deadLetterTargetArn": arns[spec.dead_letter_queue],
                                                      "maxReceiveCount": str(spec.max_receive_count)})
        sqs = self.client("sqs")
        url = sqs.create_queue(QueueName=spec.name, Attributes=attributes)["QueueUrl"]  # type: ignore[arg-type]
        return url, _queue_arn(sqs, url)

    def create_queue_pair(self, name: str, dlq_name: str, *, max_receive_count: int | None = None,
                          visibility_timeout: int | None = None) -> QueuePair:
        """A queue like the changes queue (its settings, scaled, unless given) whose redrive policy sends a
        message to ``dlq_name`` after ``max_receive_count`` receives: for tests of the Lambda runner."""
        dead = self._create_queue(QueueSpec("TestDeadLetterQueue", dlq_name, 30, 1209600), {})
        spec = QueueSpec("TestQueue", name,
                         visibility_timeout if visibility_timeout is not None else CHANGES_QUEUE.visibility_timeout,
                         CHANGES_QUEUE.retention_seconds, "TestDeadLetterQueue",
                         max_receive_count or CHANGES_QUEUE.max_receive_count)
        url, arn = self._create_queue(spec, {"TestDeadLetterQueue": dead[1]},
                                      time_scale=1.0 if visibility_timeout is not None else None)
        return QueuePair(url=url, arn=arn, dlq_url=dead[0], dlq_arn=dead[1])

    def allow_ehr(self, tenant_id: str, source: str = EHR_SOURCE) -> None:
        """The vendor's onboarding step for a tenant: the local EHR (moto's account, ``source``) may speak for it
        (``calsync.services.senders``); events naming a tenant nobody registered go to the dead-letter queue."""
        from calsync.services import senders

        senders.allow(tenant_id, ACCOUNT_ID, source)

    def put_secret(self, tenant_id: str, path: str, value: str | Mapping[str, Any]) -> str:
        """Stores ``value`` (a dict becomes JSON) as the current version of the tenant's secret ``path``, named
        and tagged as a deployment names and tags it (``calsync/<tenant>/<path>``, tag ``calsync-tenant``,
        see ``calsync.domain.secret_names``); returns its ARN."""
        from calsync.domain import secret_names

        secrets = self.client("secretsmanager")
        name = secret_names.name(tenant_id, path)
        text = value if isinstance(value, str) else json.dumps(value)
        try:
            return secrets.create_secret(Name=name, SecretString=text, Tags=[
                {"Key": secret_names.TAG_KEY, "Value": secret_names.segment(tenant_id)}])["ARN"]
        except secrets.exceptions.ResourceExistsException:
            return secrets.put_secret_value(SecretId=name, SecretString=text)["ARN"]

    def put_deployment_secret(self, name: str, value: dict[str, Any]) -> str:
        """Stores one of the deployment's own secrets (``calsync/_deployment/…``: the OAuth clients), which
        belong to no tenant; returns its ARN."""
        from calsync.core.settings import DEPLOYMENT_SECRETS

        if not name.startswith(DEPLOYMENT_SECRETS):
            raise ValueError(f"a deployment secret is named {DEPLOYMENT_SECRETS}...")
        secrets = self.client("secretsmanager")
        try:
            return secrets.create_secret(Name=name, SecretString=json.dumps(value))["ARN"]
        except secrets.exceptions.ResourceExistsException:
            return secrets.put_secret_value(SecretId=name, SecretString=json.dumps(value))["ARN"]


def _queue_arn(sqs: SQSClient, url: str) -> str:
    return sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
