"""What the local deployment builds, read from ``template.yaml`` itself: one source, no second list.

Tables, buckets, the bus, its rule and event pattern, the queues with their visibility timeout and redrive
policy, the functions (handler module, timeout, environment), the queue mappings, the schedules, the HTTP API's
routes (method, path, target function, authoriser) and the KMS HMAC keys' aliases all come from the
template, rendered with the ``Environment`` parameter set to ``local``. A route, queue setting or schedule
changed in the template is what the local deployment runs the next time it starts.

Names that CloudFormation would generate (queues, rules, functions) are made from the stack name and the
resource's logical id, e.g. ``ChangesQueue`` → ``calsync-local-changes-queue``.

Some of the template cannot be emulated in one process on loopback (throttling, access logs, concurrency
limits, other authorisers); :attr:`Blueprint.unsupported` says which, so a start-up can state it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from devstack import DevstackError
from devstack.cfn_template import (
    TEMPLATE,
    function_environment,
    function_setting,
    load_template,
    ref_target,
    render_sub,
)

ENVIRONMENT = "local"
STACK_NAME = f"calsync-{ENVIRONMENT}"
LOCAL_ACCOUNT_ID = "123456789012"  # moto's default account
IAM = "AWS_IAM"
NONE = "NONE"
_RATE = re.compile(r"^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$")
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}


def local_name(logical_id: str, *, drop_suffix: str = "") -> str:
    """``ChangesDeadLetterQueue`` → ``calsync-local-changes-dead-letter-queue`` (a generated name, made
    readable)."""
    base = logical_id[: -len(drop_suffix)] if drop_suffix and logical_id.endswith(drop_suffix) else logical_id
    return f"{STACK_NAME}-" + re.sub(r"(?<!^)(?=[A-Z])", "-", base).lower()


@dataclass(frozen=True)
class QueueSpec:
    """An ``AWS::SQS::Queue``: its settings and where its redrive policy sends what it gives up on."""

    logical_id: str
    name: str
    visibility_timeout: int
    retention_seconds: int
    dead_letter_queue: str | None = None  # logical id
    max_receive_count: int | None = None


@dataclass(frozen=True)
class RuleTarget:
    target_id: str
    queue: str  # logical id of the target queue
    dead_letter_queue: str | None


@dataclass(frozen=True)
class RuleSpec:
    """An ``AWS::Events::Rule`` on the stack's bus that routes to queues."""

    logical_id: str
    name: str
    event_pattern: dict[str, Any]
    targets: tuple[RuleTarget, ...]


@dataclass(frozen=True)
class FunctionSpec:
    """An ``AWS::Serverless::Function``: where its handler lives and how Lambda would run it."""

    logical_id: str
    name: str
    handler_path: str  # "functions.feed.app:lambda_handler"
    timeout_seconds: int
    memory_mb: int
    environment: Mapping[str, Any] = field(default_factory=dict)  # as written: literals and !Ref
    log_group: str = ""  # the name of its LoggingConfig.LogGroup (what it writes goes there)


@dataclass(frozen=True)
class QueueMapping:
    """An SQS event-source mapping: which function consumes which queue, and how."""

    logical_id: str
    function: str
    queue: str
    batch_size: int
    batching_window_seconds: int
    reports_item_failures: bool


@dataclass(frozen=True)
class ScheduleSpec:
    """A ``Schedule`` event of a function; only ``rate(...)`` expressions have a period locally."""

    function: str
    event_name: str
    expression: str
    period_seconds: int | None


@dataclass(frozen=True)
class RouteSpec:
    """One ``HttpApi`` event of a function: ``method path`` → function, with its authoriser."""

    method: str
    path: str
    function: str
    authorizer: str  # NONE, AWS_IAM, or the name of an authoriser the local API cannot run

    @property
    def route_key(self) -> str:
        return f"{self.method} {self.path}"

    @property
    def parameters(self) -> list[str]:
        return [name.rstrip("+") for name in re.findall(r"\{([^}]+)\}", self.path)]

    def match(self, method: str, path: str) -> dict[str, str] | None:
        """The path parameters when this route takes ``method path`` (API Gateway's matching), else None."""
        if self.method not in ("ANY", method):
            return None
        pattern = "^"
        for literal, name in re.findall(r"([^{]*)(?:\{([^}]+)\})?", self.path):
            pattern += re.escape(literal)
            if name:
                pattern += f"(?P<{name.rstrip('+')}>.+)" if name.endswith("+") else f"(?P<{name}>[^/]+)"
        found = re.match(pattern + "$", path)
        return dict(found.groupdict()) if found else None

    @property
    def specificity(self) -> tuple[int, int, int]:
        """API Gateway prefers literal paths, then fewer variables, then non-greedy ones."""
        greedy = self.path.count("+}")
        return (greedy, len(self.parameters), -len(self.path))


@dataclass(frozen=True)
class Blueprint:
    """The deployment ``template.yaml`` describes, as the local stack builds it."""

    template: dict[str, Any]
    tables: Mapping[str, str]  # logical id → table name
    buckets: Mapping[str, str]  # logical id → bucket name (S3 names them in AWS; locally, from the logical id)
    bus_logical_id: str
    bus_name: str
    queues: Mapping[str, QueueSpec]
    rules: tuple[RuleSpec, ...]
    functions: Mapping[str, FunctionSpec]
    mappings: tuple[QueueMapping, ...]
    schedules: tuple[ScheduleSpec, ...]
    routes: tuple[RouteSpec, ...]
    unsupported: tuple[str, ...]
    hmac_key_aliases: tuple[str, ...] = ()  # aliases of the template's KMS HMAC keys (connect link signatures)

    @classmethod
    def load(cls, path: Path = TEMPLATE) -> Blueprint:
        return cls.of(load_template(path))

    @classmethod
    def of(cls, template: dict[str, Any]) -> Blueprint:
        """The blueprint of a template already read (see ``devstack.cfn_template.load_template``)."""
        return _read(template)

    def sub(self, text: str) -> str:
        return render_sub(self.template, text, {"Environment": ENVIRONMENT, "AWS::StackName": STACK_NAME})

    def parameter(self, name: str) -> str:
        return str(self.template["Parameters"][name]["Default"])

    def queue_consumed_by(self, function: str) -> QueueSpec:
        (mapping,) = [m for m in self.mappings if m.function == function]
        return self.queues[mapping.queue]

    def environment(self, resolve_queue_url: Callable[[QueueSpec], str]) -> dict[str, str]:
        """Every function's environment in one (the local functions share one process), with each ``!Ref``
        resolved to the local resource: a table's name, a queue's URL, the bus's name, a parameter's default."""
        merged: dict[str, str] = {}
        for function in self.functions.values():
            for name, value in function.environment.items():
                resolved = self._resolve(value, resolve_queue_url)
                if merged.get(name, resolved) != resolved:
                    raise DevstackError(f"functions disagree on {name}: one process cannot give both values")
                merged[name] = resolved
        return merged

    def _resolve(self, value: Any, resolve_queue_url: Callable[[QueueSpec], str]) -> str:
        if isinstance(value, str | int | float):
            return str(value)
        if isinstance(value, dict) and "Ref" in value:
            target = str(value["Ref"])
            if target in self.tables:
                return self.tables[target]
            if target in self.buckets:
                return self.buckets[target]
            if target in self.queues:
                return resolve_queue_url(self.queues[target])
            if target == self.bus_logical_id:
                return self.bus_name
            if target in self.template.get("Parameters", {}):
                return self.parameter(target)
        if isinstance(value, dict) and "Fn::Sub" in value and isinstance(value["Fn::Sub"], str):
            return self.sub(value["Fn::Sub"])
        if isinstance(value, dict) and "Fn::GetAtt" in value:
            target, attribute = value["Fn::GetAtt"]
            if attribute == "Arn" and self.template["Resources"].get(target, {}).get("Type") == "AWS::IAM::Role":
                return local_role_arn(target)
        raise DevstackError(f"the local deployment cannot resolve {value!r} in a function's environment")


def local_role_arn(logical_id: str) -> str:
    """The ARN a role of the template has in the local account (moto's STS does not check roles exist)."""
    return f"arn:aws:iam::{LOCAL_ACCOUNT_ID}:role/{STACK_NAME}-{logical_id}"


@cache
def blueprint() -> Blueprint:
    """The blueprint of the repository's ``template.yaml`` (read once per process)."""
    return Blueprint.load()


# -- reading ----------------------------------------------------------------------------------------------


def _of_type(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {name: resource for name, resource in template["Resources"].items() if resource["Type"] == kind}


def _ref(value: Any) -> str:
    target = ref_target(value)
    if target is None:
        raise DevstackError(f"expected !Ref or !GetAtt, got {value!r}")
    return target


def _read(template: dict[str, Any]) -> Blueprint:
    def sub(value: Any) -> str:
        text = value["Fn::Sub"] if isinstance(value, dict) else value
        return render_sub(template, str(text), {"Environment": ENVIRONMENT, "AWS::StackName": STACK_NAME})

    tables = {name: sub(resource["Properties"]["TableName"])
              for name, resource in _of_type(template, "AWS::DynamoDB::Table").items()}
    buckets = {name: local_name(name, drop_suffix="Bucket") for name in _of_type(template, "AWS::S3::Bucket")}
    ((bus_id, bus),) = _of_type(template, "AWS::Events::EventBus").items()
    queues = {name: _queue(name, resource.get("Properties", {}))
              for name, resource in _of_type(template, "AWS::SQS::Queue").items()}
    rules = tuple(_rule(name, resource["Properties"])
                  for name, resource in _of_type(template, "AWS::Events::Rule").items()
                  if _ref(resource["Properties"]["EventBusName"]) == bus_id)
    functions: dict[str, FunctionSpec] = {}
    schedules: list[ScheduleSpec] = []
    routes: list[RouteSpec] = []
    unsupported: list[str] = []
    api_auth = _api_default_authorizers(template)
    for name in sorted(_of_type(template, "AWS::Serverless::Function")):
        functions[name] = _function(template, name)
        if function_setting(template, name, "SnapStart"):
            unsupported.append(f"{name}: SnapStart is not emulated (init runs in this process when first invoked; "
                               "calsync.core.snapshot.restored() plays a restore in the tests)")
        for event_name, event in (template["Resources"][name]["Properties"].get("Events") or {}).items():
            props = event.get("Properties", {})
            if event["Type"] == "HttpApi":
                auth = (props.get("Auth") or {}).get("Authorizer") or api_auth.get(_ref(props["ApiId"]), NONE)
                routes.append(RouteSpec(str(props["Method"]).upper(), str(props["Path"]), name, str(auth)))
                if auth not in (NONE, IAM):
                    unsupported.append(f"{props['Method']} {props['Path']}: authoriser {auth} is not emulated; "
                                       "the route refuses every request (403)")
            elif event["Type"] == "Schedule":
                expression = str(props["Schedule"])
                found = _RATE.match(expression)
                period = int(found.group(1)) * _UNIT_SECONDS[found.group(2).rstrip("s")] if found else None
                schedules.append(ScheduleSpec(name, event_name, expression, period))
                if period is None:
                    unsupported.append(f"{name} {event_name}: schedule {expression} is not run (only rate())")
            else:
                unsupported.append(f"{name} {event_name}: event type {event['Type']} is not emulated")
    mappings = tuple(
        QueueMapping(name, _ref(props["FunctionName"]), _ref(props["EventSourceArn"]), int(props.get("BatchSize", 10)),
                     int(props.get("MaximumBatchingWindowInSeconds", 0)),
                     "ReportBatchItemFailures" in props.get("FunctionResponseTypes", []))
        for name, resource in _of_type(template, "AWS::Lambda::EventSourceMapping").items()
        for props in (resource["Properties"],))
    unsupported += _unsupported_api_settings(template)
    hmac_keys = {name for name, key in _of_type(template, "AWS::KMS::Key").items()
                 if str(key["Properties"].get("KeySpec", "")).startswith("HMAC_")}
    hmac_key_aliases = tuple(sub(alias["Properties"]["AliasName"])
                             for alias in _of_type(template, "AWS::KMS::Alias").values()
                             if _ref(alias["Properties"]["TargetKeyId"]) in hmac_keys)
    unsupported += [f"{m.logical_id}: ScalingConfig is not emulated (one batch at a time)"
                    for m in mappings
                    if "ScalingConfig" in template["Resources"][m.logical_id]["Properties"]]
    return Blueprint(template=template, tables=tables, buckets=buckets, bus_logical_id=bus_id,
                     bus_name=sub(bus["Properties"]["Name"]),
                     queues=queues, rules=rules, functions=functions, mappings=mappings, schedules=tuple(schedules),
                     routes=tuple(routes), unsupported=tuple(unsupported), hmac_key_aliases=hmac_key_aliases)


def _queue(name: str, props: dict[str, Any]) -> QueueSpec:
    redrive = props.get("RedrivePolicy") or {}
    return QueueSpec(
        logical_id=name, name=local_name(name), visibility_timeout=int(props.get("VisibilityTimeout", 30)),
        retention_seconds=int(props.get("MessageRetentionPeriod", 345600)),
        dead_letter_queue=_ref(redrive["deadLetterTargetArn"]) if redrive else None,
        max_receive_count=int(redrive["maxReceiveCount"]) if redrive else None,
    )


def _rule(name: str, props: dict[str, Any]) -> RuleSpec:
    targets = tuple(
        RuleTarget(str(target["Id"]), _ref(target["Arn"]),
                   _ref(target["DeadLetterConfig"]["Arn"]) if "DeadLetterConfig" in target else None)
        for target in props.get("Targets", []))
    return RuleSpec(name, local_name(name), dict(props["EventPattern"]), targets)


def _function(template: dict[str, Any], name: str) -> FunctionSpec:
    code_uri = str(function_setting(template, name, "CodeUri")).strip("/")
    module, _, attribute = str(function_setting(template, name, "Handler")).rpartition(".")
    return FunctionSpec(
        logical_id=name, name=local_name(name, drop_suffix="Function"),
        handler_path=f"{code_uri.replace('/', '.')}.{module}:{attribute}",
        timeout_seconds=int(function_setting(template, name, "Timeout") or 3),
        memory_mb=int(function_setting(template, name, "MemorySize") or 128),
        environment=function_environment(template, name),
        log_group=_log_group(template, name),
    )


def _log_group(template: dict[str, Any], function: str) -> str:
    """The log group the function writes to: its ``LoggingConfig.LogGroup``'s name, else Lambda's default."""
    group = (function_setting(template, function, "LoggingConfig") or {}).get("LogGroup")
    if isinstance(group, dict) and "Ref" in group:
        name = template["Resources"][group["Ref"]]["Properties"]["LogGroupName"]
        return render_sub(template, name["Fn::Sub"] if isinstance(name, dict) else name,
                          {"Environment": ENVIRONMENT, "AWS::StackName": STACK_NAME})
    return f"/aws/lambda/{local_name(function, drop_suffix='Function')}"


def _api_default_authorizers(template: dict[str, Any]) -> dict[str, str]:
    return {name: str(auth["DefaultAuthorizer"])
            for name, resource in _of_type(template, "AWS::Serverless::HttpApi").items()
            if (auth := resource.get("Properties", {}).get("Auth") or {}).get("DefaultAuthorizer")}


def _unsupported_api_settings(template: dict[str, Any]) -> list[str]:
    notes: list[str] = []
    for name, resource in _of_type(template, "AWS::Serverless::HttpApi").items():
        props = resource.get("Properties", {})
        default = props.get("DefaultRouteSettings") or {}
        if "ThrottlingRateLimit" in default or "ThrottlingBurstLimit" in default:
            notes.append(f"{name}: throttling (default {default.get('ThrottlingRateLimit')}/s, burst "
                         f"{default.get('ThrottlingBurstLimit')}) is not enforced locally")
        for route, settings in (props.get("RouteSettings") or {}).items():
            if "ThrottlingRateLimit" in settings or "ThrottlingBurstLimit" in settings:
                notes.append(f"{name}: throttling of {route} ({settings.get('ThrottlingRateLimit')}/s, burst "
                             f"{settings.get('ThrottlingBurstLimit')}) is not enforced locally")
        if "AccessLogSettings" in props:
            notes.append(f"{name}: access logs are not written locally")
        if "CorsConfiguration" in props:
            notes.append(f"{name}: CORS is not applied locally")
    return notes
