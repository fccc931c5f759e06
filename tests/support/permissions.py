"""What each role of the translated template grants, and what the code used: the two sides of the least-privilege
comparison in ``tests/infrastructure/test_least_privilege.py``.

**Grants** come from the template as SAM deploys it (``devstack.cfn_template.translated``): every Allow
statement of every role (inline policies, ``AWS::IAM::Policy`` resources attached to it, managed policies, and the
trust policies that let one role assume another), one :class:`Grant` per action and resource, with its
conditions. Resources are written symbolically: ``LedgerTable``, ``LedgerTable/index/due``, ``EventBus``,
``secret:calsync/${aws:PrincipalTag/calsync-tenant}/*``.

**Uses** come from the AWS calls recorded while the integration tests ran (``tests.support.aws_calls``), each
resolved to the role whose credentials made it (a function's own role, or the tenant-secrets role session it
assumed) and to the same symbolic resource, with the request context the conditions speak of. Some permissions
are used by AWS on a function's behalf, never by its code: those :func:`platform_uses` are derived from the
template (the SQS event source mapping polls with the function's role; the Lambda runtime writes logs, and
X-Ray segments where active tracing is on; SQS asks KMS for data keys of an encrypted queue).

**Declared**: :data:`DECLARED` says, per role, which actions on which resources the code is meant to use. The
template must grant exactly that, and the recorded calls must use exactly that.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from tests.support import aws_calls

REGION = "us-east-1"
LOGS_BY_THE_RUNTIME = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
TRACES_BY_THE_RUNTIME = "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess"
EVENT_SOURCE_MAPPING_ACTIONS = ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility",
                                "sqs:GetQueueAttributes")
TRUST = "#trust"  # a role's trust policy, as a pseudo-role: "TenantSecretsRole#trust" grants sts:* to a role
VALUE_STRICT_KEYS = frozenset({"events:source"})
"""Condition keys whose every allowed value must be used (each value is a grant of its own)."""
KNOWN_KEYS = frozenset({"events:source", "kms:ViaService", "aws:RequestTag/calsync-tenant", "aws:TagKeys",
                        "secretsmanager:ResourceTag/calsync-tenant"})
"""Condition keys the comparison knows how to fill from a call; any other key fails the comparison."""

# -- what the code is meant to use ---------------------------------------------------------------------------

_FEED_WRITES = {
    ("dynamodb:GetItem", "FeedEventsTable"), ("dynamodb:PutItem", "FeedEventsTable"),
    ("dynamodb:UpdateItem", "FeedEventsTable"), ("dynamodb:UpdateItem", "FeedsTable"),
}
_SYNC = _FEED_WRITES | {
    ("dynamodb:GetItem", "IntegrationsTable"), ("dynamodb:UpdateItem", "IntegrationsTable"),
    ("dynamodb:Query", "IntegrationsTable/index/by_owner"),
    ("dynamodb:PutItem", "LedgerTable"), ("dynamodb:UpdateItem", "LedgerTable"),
    ("events:PutEvents", "EventBus"),
    ("sts:AssumeRole", "TenantSecretsRole"), ("sts:TagSession", "TenantSecretsRole"),
    ("secretsmanager:GetSecretValue", "secret:calsync/_deployment/oauth/*"),
    ("managed:AWSLambdaBasicExecutionRole", "*"),
}
_PLATFORM_INTAKE = {  # booking-platform sources and their bookkeeping (calsync.store.platform_intake)
    ("dynamodb:GetItem", "PlatformIntakeTable"), ("dynamodb:PutItem", "PlatformIntakeTable"),
    ("dynamodb:UpdateItem", "PlatformIntakeTable"), ("dynamodb:DeleteItem", "PlatformIntakeTable"),
}
_SENDS_PULLS = {  # asking for a pull (calsync.services.twoway.requests): coalesced, then queued
    ("dynamodb:UpdateItem", "PullsTable"), ("sqs:SendMessage", "PullQueue"),
    ("kms:Decrypt", "DataKey"), ("kms:GenerateDataKey", "DataKey"),
}
_STOPS_CHANNELS = {("dynamodb:Query", "WatchesTable/index/by_integration"), ("dynamodb:DeleteItem", "WatchesTable")}
"""Stopping an integration's push channels (pause, disconnect, push only: calsync.services.twoway.watching)."""
_CONFLICTS = {("dynamodb:" + action, "ConflictsTable") for action in ("GetItem", "Query", "PutItem", "UpdateItem",
                                                                      "DeleteItem")}
DECLARED: dict[str, set[tuple[str, str]]] = {
    "OnAppointmentChangeFunctionRole": _SYNC | _CONFLICTS | {
        ("dynamodb:UpdateItem", "AppointmentsTable"), ("dynamodb:GetItem", "TenantsTable"),
        ("dynamodb:PutItem", "DisclosuresTable"), ("dynamodb:Query", "BusyBlocksTable/index/by_owner"),
        *((action, "ChangesQueue") for action in EVENT_SOURCE_MAPPING_ACTIONS),
        ("sqs:SendMessage", "ChangesDeadLetterQueue"),
        ("kms:Decrypt", "DataKey"), ("kms:GenerateDataKey", "DataKey"),
        ("managed:AWSXrayWriteOnlyAccess", "*"),
    },
    "RetrySweeperFunctionRole": _SYNC | _SENDS_PULLS | {
        ("dynamodb:Query", "PullsTable/index/due"),
        ("dynamodb:GetItem", "AppointmentsTable"), ("dynamodb:BatchGetItem", "AppointmentsTable"),
        ("dynamodb:UpdateItem", "AppointmentsTable"), ("dynamodb:Query", "IntegrationsTable/index/by_tenant"),
        ("dynamodb:PutItem", "DisclosuresTable"), ("dynamodb:Scan", "IntegrationsTable"),
        ("dynamodb:Query", "AppointmentsTable/index/by_changed_day"),
        ("dynamodb:Query", "AppointmentsTable/index/by_practitioner"),
        ("dynamodb:Query", "AppointmentsTable/index/by_practice"),
        ("dynamodb:GetItem", "LedgerTable"), ("dynamodb:BatchGetItem", "LedgerTable"),
        ("dynamodb:DeleteItem", "LedgerTable"), ("dynamodb:Query", "LedgerTable"),
        ("dynamodb:Query", "LedgerTable/index/due"),
        *_PLATFORM_INTAKE, ("dynamodb:Query", "PlatformIntakeTable"),
        ("dynamodb:Query", "PlatformIntakeTable/index/due"),
    },
    "FeedFunctionRole": {
        ("dynamodb:UpdateItem", "FeedTokensTable"), ("dynamodb:GetItem", "FeedTokensTable"),
        ("dynamodb:GetItem", "FeedsTable"), ("dynamodb:UpdateItem", "FeedsTable"),
        ("dynamodb:Query", "FeedEventsTable/index/by_start"),
        ("s3:GetObject", "FeedCacheBucket/feeds/*"), ("s3:PutObject", "FeedCacheBucket/feeds/*"),
        ("kms:Decrypt", "DataKey"), ("kms:GenerateDataKey", "DataKey"),
        ("managed:AWSLambdaBasicExecutionRole", "*"),
    },
    "OnWebhookFunctionRole": _SENDS_PULLS | _PLATFORM_INTAKE | {
        ("dynamodb:GetItem", "AppointmentsTable"), ("events:PutEvents", "EventBus"),
        ("sts:AssumeRole", "TenantSecretsRole"), ("sts:TagSession", "TenantSecretsRole"),
        ("dynamodb:GetItem", "WatchesTable"), ("dynamodb:UpdateItem", "WatchesTable"),
        ("dynamodb:DeleteItem", "WatchesTable"),
        ("managed:AWSLambdaBasicExecutionRole", "*"),
    },
    "PullWorkerFunctionRole": _CONFLICTS | {
        *((action, "PullQueue") for action in EVENT_SOURCE_MAPPING_ACTIONS),
        ("sqs:SendMessage", "PullDeadLetterQueue"), ("kms:Decrypt", "DataKey"), ("kms:GenerateDataKey", "DataKey"),
        *(("dynamodb:" + action, "PullsTable") for action in ("Query", "PutItem", "UpdateItem", "DeleteItem")),
        ("dynamodb:PutItem", "WatchesTable"), ("dynamodb:UpdateItem", "WatchesTable"),
        ("dynamodb:DeleteItem", "WatchesTable"), ("dynamodb:Query", "WatchesTable/index/by_integration"),
        ("dynamodb:Query", "BusyBlocksTable"), ("dynamodb:PutItem", "BusyBlocksTable"),
        ("dynamodb:DeleteItem", "BusyBlocksTable"),
        ("dynamodb:Query", "ConflictsTable/index/scheduled"), ("dynamodb:Query", "ConflictsTable/index/by_block"),
        ("dynamodb:GetItem", "IntegrationsTable"), ("dynamodb:UpdateItem", "IntegrationsTable"),
        ("dynamodb:GetItem", "AppointmentsTable"), ("dynamodb:BatchGetItem", "AppointmentsTable"),
        ("dynamodb:Query", "AppointmentsTable/index/by_practitioner"),
        ("dynamodb:GetItem", "LedgerTable"), ("dynamodb:Query", "LedgerTable"), ("dynamodb:PutItem", "LedgerTable"),
        ("dynamodb:UpdateItem", "LedgerTable"),
        ("dynamodb:Query", "LedgerTable/index/by_external"), ("dynamodb:PutItem", "DisclosuresTable"),
        ("events:PutEvents", "EventBus"),
        ("sts:AssumeRole", "TenantSecretsRole"), ("sts:TagSession", "TenantSecretsRole"),
        ("secretsmanager:GetSecretValue", "secret:calsync/_deployment/oauth/*"),
        ("managed:AWSLambdaBasicExecutionRole", "*"),
    },
    "AvailabilityFunctionRole": {
        ("dynamodb:Query", "BusyBlocksTable/index/by_owner"), ("managed:AWSLambdaBasicExecutionRole", "*"),
    },
    "TenantSecretsRole": {
        ("secretsmanager:GetSecretValue", "secret:calsync/${aws:PrincipalTag/calsync-tenant}/*"),
        ("secretsmanager:PutSecretValue", "secret:calsync/${aws:PrincipalTag/calsync-tenant}/*"),
        ("secretsmanager:UpdateSecretVersionStage", "secret:calsync/${aws:PrincipalTag/calsync-tenant}/*"),
    },
    "TenantSecretsRole" + TRUST: {
        ("sts:AssumeRole", "OnAppointmentChangeFunctionRole"), ("sts:TagSession", "OnAppointmentChangeFunctionRole"),
        ("sts:AssumeRole", "RetrySweeperFunctionRole"), ("sts:TagSession", "RetrySweeperFunctionRole"),
        ("sts:AssumeRole", "PullWorkerFunctionRole"), ("sts:TagSession", "PullWorkerFunctionRole"),
        ("sts:AssumeRole", "ConnectFunctionRole"), ("sts:TagSession", "ConnectFunctionRole"),
        ("sts:AssumeRole", "IntegrationApiFunctionRole"), ("sts:TagSession", "IntegrationApiFunctionRole"),
        ("sts:AssumeRole", "OnWebhookFunctionRole"), ("sts:TagSession", "OnWebhookFunctionRole"),
    },
    "ConnectFunctionRole": _SENDS_PULLS | {  # the page only ever starts two-way sync
        ("dynamodb:GetItem", "ConnectLinksTable"), ("dynamodb:UpdateItem", "ConnectLinksTable"),
        ("dynamodb:PutItem", "OAuthStatesTable"), ("dynamodb:DeleteItem", "OAuthStatesTable"),
        ("dynamodb:GetItem", "IntegrationsTable"), ("dynamodb:PutItem", "IntegrationsTable"),
        ("dynamodb:UpdateItem", "IntegrationsTable"),
        *((action, "LedgerTable") for action in ("dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:PutItem",
                                                 "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:Query")),
        ("dynamodb:BatchGetItem", "AppointmentsTable"), ("dynamodb:UpdateItem", "AppointmentsTable"),
        ("dynamodb:Query", "AppointmentsTable/index/by_practitioner"),
        ("dynamodb:UpdateItem", "FeedsTable"), ("dynamodb:PutItem", "FeedTokensTable"),
        ("dynamodb:PutItem", "FeedEventsTable"), ("dynamodb:PutItem", "DisclosuresTable"),
        ("events:PutEvents", "EventBus"),
        ("kms:VerifyMac", "ConnectLinkKey"),
        ("managed:AWSLambdaBasicExecutionRole", "*"),
        ("secretsmanager:GetSecretValue", "secret:calsync/_deployment/oauth/*"),
        ("sts:AssumeRole", "TenantSecretsManagerRole"), ("sts:TagSession", "TenantSecretsManagerRole"),
        ("sts:AssumeRole", "TenantSecretsRole"), ("sts:TagSession", "TenantSecretsRole"),
    },
    "IntegrationApiFunctionRole": _SENDS_PULLS | _STOPS_CHANNELS | {
        ("kms:GenerateMac", "ConnectLinkKey"), ("dynamodb:PutItem", "ConnectLinksTable"),
        ("dynamodb:GetItem", "IntegrationsTable"), ("dynamodb:PutItem", "IntegrationsTable"),
        ("dynamodb:UpdateItem", "IntegrationsTable"), ("dynamodb:Query", "IntegrationsTable/index/by_owner"),
        ("dynamodb:UpdateItem", "LedgerTable"), ("dynamodb:DeleteItem", "LedgerTable"),
        ("dynamodb:Query", "LedgerTable"),
        ("dynamodb:BatchGetItem", "AppointmentsTable"), ("dynamodb:UpdateItem", "AppointmentsTable"),
        ("dynamodb:Query", "AppointmentsTable/index/by_practitioner"),
        ("dynamodb:Query", "AppointmentsTable/index/by_practice"),
        ("dynamodb:UpdateItem", "FeedsTable"), ("dynamodb:DeleteItem", "FeedsTable"),
        ("dynamodb:PutItem", "FeedTokensTable"), ("dynamodb:UpdateItem", "FeedTokensTable"),
        ("dynamodb:Query", "FeedTokensTable/index/by_feed"),
        ("dynamodb:PutItem", "FeedEventsTable"), ("dynamodb:BatchWriteItem", "FeedEventsTable"),
        ("dynamodb:Query", "FeedEventsTable"),
        ("dynamodb:PutItem", "DisclosuresTable"),
        ("s3:ListBucket", "FeedCacheBucket"), ("s3:DeleteObject", "FeedCacheBucket/feeds/*"),
        ("events:PutEvents", "EventBus"),
        ("managed:AWSLambdaBasicExecutionRole", "*"),
        ("secretsmanager:GetSecretValue", "secret:calsync/_deployment/oauth/*"),
        ("sts:AssumeRole", "TenantSecretsManagerRole"), ("sts:TagSession", "TenantSecretsManagerRole"),
        ("sts:AssumeRole", "TenantSecretsRole"), ("sts:TagSession", "TenantSecretsRole"),
    },
    "TenantSecretsManagerRole": {
        ("secretsmanager:CreateSecret", "secret:calsync/${aws:PrincipalTag/calsync-tenant}/*"),
        ("secretsmanager:DeleteSecret", "secret:calsync/${aws:PrincipalTag/calsync-tenant}/*"),
        ("secretsmanager:DescribeSecret", "secret:calsync/${aws:PrincipalTag/calsync-tenant}/*"),
        ("secretsmanager:PutSecretValue", "secret:calsync/${aws:PrincipalTag/calsync-tenant}/*"),
        ("secretsmanager:TagResource", "secret:calsync/${aws:PrincipalTag/calsync-tenant}/*"),
        ("secretsmanager:UpdateSecretVersionStage", "secret:calsync/${aws:PrincipalTag/calsync-tenant}/*"),
    },
    "TenantSecretsManagerRole" + TRUST: {
        ("sts:AssumeRole", "ConnectFunctionRole"),
        ("sts:AssumeRole", "IntegrationApiFunctionRole"),
        ("sts:TagSession", "ConnectFunctionRole"),
        ("sts:TagSession", "IntegrationApiFunctionRole"),
    },
}


# -- the template's side -----------------------------------------------------------------------------------


Conditions = tuple[tuple[str, str, tuple[str, ...]], ...]  # (operator, key, values)


@dataclass(frozen=True)
class Grant:
    role: str
    action: str
    resource: str
    conditions: Conditions = ()

    @property
    def id(self) -> str:
        values = "".join(f"[{key}={','.join(values)}]" for _op, key, values in self.conditions
                         if key in VALUE_STRICT_KEYS)
        return f"{self.role}:{self.action}:{self.resource}{values}"


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _render(template: dict[str, Any], value: Any) -> str:
    """A condition value or resource, offline: parameters get their default, ARNs lose their account part."""
    if isinstance(value, str):
        return value
    if "Ref" in value:
        name = value["Ref"]
        parameter = template.get("Parameters", {}).get(name)
        return str(parameter["Default"]) if parameter and "Default" in parameter else name
    if "Fn::GetAtt" in value:
        return str(value["Fn::GetAtt"][0])
    if "Fn::Sub" in value:
        text = value["Fn::Sub"] if isinstance(value["Fn::Sub"], str) else value["Fn::Sub"][0]
        text = re.sub(r"^arn:\$\{AWS::Partition\}:[a-z0-9-]+:(\$\{AWS::Region\})?:(\$\{AWS::AccountId\})?:", "", text)
        text = text.replace("${AWS::Region}", REGION)
        text = re.sub(r"\$\{(\w+)\.Arn\}", r"\1", text)
        return text.replace("${!", "${")
    raise AssertionError(f"cannot read {value!r}")


def _conditions(template: dict[str, Any], statement: dict[str, Any]) -> Iterator[Conditions]:
    """The statement's conditions; a value-strict key with several values gives one set per value."""
    fixed: list[tuple[str, str, tuple[str, ...]]] = []
    strict: list[tuple[str, str, tuple[str, ...]]] = []
    for operator, keys in statement.get("Condition", {}).items():
        for key, values in keys.items():
            rendered = tuple(_render(template, v) for v in _as_list(values))
            (strict if key in VALUE_STRICT_KEYS else fixed).append((operator, key, rendered))
    if not strict:
        yield tuple(fixed)
        return
    (operator, key, values), = strict
    for value in values:
        yield (*fixed, (operator, key, (value,)))


def _statements(document: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for s in _as_list(document.get("Statement", [])) if s.get("Effect") == "Allow"]


def grants(template: dict[str, Any]) -> list[Grant]:
    """Every (role, action, resource, conditions) the translated template allows."""
    resources = template["Resources"]
    documents: dict[str, list[dict[str, Any]]] = {}
    found: list[Grant] = []
    for role_id, role in resources.items():
        if role["Type"] != "AWS::IAM::Role":
            continue
        props = role["Properties"]
        documents.setdefault(role_id, []).extend(p["PolicyDocument"] for p in props.get("Policies", []))
        found.extend(Grant(role_id, "managed:" + str(arn).rsplit("/", 1)[-1], "*")
                     for arn in props.get("ManagedPolicyArns", []))
        for statement in _statements(props["AssumeRolePolicyDocument"]):
            for principal in _as_list(statement.get("Principal", {}).get("AWS", [])):
                for action in _as_list(statement["Action"]):
                    found.extend(Grant(role_id + TRUST, action, _render(template, principal), conditions)
                                 for conditions in _conditions(template, statement))
    for policy in resources.values():
        if policy["Type"] == "AWS::IAM::Policy":
            for role in policy["Properties"]["Roles"]:
                documents.setdefault(role["Ref"], []).append(policy["Properties"]["PolicyDocument"])
    for role_id, docs in documents.items():
        for statement in (s for doc in docs for s in _statements(doc)):
            for action in _as_list(statement["Action"]):
                for resource in _as_list(statement["Resource"]):
                    found.extend(Grant(role_id, action, _render(template, resource), conditions)
                                 for conditions in _conditions(template, statement))
    return found


def function_roles(template: dict[str, Any]) -> dict[str, str]:
    """Function logical id -> the logical id of its role."""
    return {function_id: function["Properties"]["Role"]["Fn::GetAtt"][0]
            for function_id, function in template["Resources"].items() if function["Type"] == "AWS::Lambda::Function"}


# -- the code's side ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Use:
    function: str
    role: str
    action: str
    resource: str
    context: tuple[tuple[str, Any], ...] = ()
    why: str = ""  # the test that made the call, or the platform rule

    def value(self, key: str) -> Any:
        return dict(self.context).get(key)


def _environment_targets(template: dict[str, Any]) -> dict[str, str]:
    """Local value of each CALSYNC_* setting that names a template resource -> that resource's logical id."""
    targets: dict[str, str] = {}
    aliases = {json.dumps(alias["Properties"]["AliasName"], sort_keys=True): _render(
        template, alias["Properties"]["TargetKeyId"]) for alias in template["Resources"].values()
        if alias["Type"] == "AWS::KMS::Alias"}  # a setting naming a key by its alias: the key
    for resource in template["Resources"].values():
        if resource["Type"] != "AWS::Lambda::Function":
            continue
        for name, value in resource["Properties"].get("Environment", {}).get("Variables", {}).items():
            if not (isinstance(value, dict) and os.environ.get(name)):
                continue
            if "Ref" in value or "Fn::GetAtt" in value:
                targets[os.environ[name]] = _render(template, value)
            elif json.dumps(value, sort_keys=True) in aliases:
                targets[os.environ[name]] = aliases[json.dumps(value, sort_keys=True)]
    return targets


def _queue_keys(template: dict[str, Any]) -> dict[str, str]:
    """Queue or bucket logical id -> logical id of its KMS key (encrypted with a customer key only)."""
    keys = {}
    for resource_id, resource in template["Resources"].items():
        key = resource["Type"] == "AWS::SQS::Queue" and resource["Properties"].get("KmsMasterKeyId")
        if resource["Type"] == "AWS::S3::Bucket":
            rules = resource["Properties"].get("BucketEncryption", {}).get("ServerSideEncryptionConfiguration", [])
            key = next((rule["ServerSideEncryptionByDefault"].get("KMSMasterKeyID") for rule in rules), None)
        if key:
            keys[resource_id] = _render(template, key)
    return keys


def _via_sqs() -> tuple[tuple[str, str], ...]:
    return (("kms:ViaService", f"sqs.{REGION}.amazonaws.com"),)


def _via_s3() -> tuple[tuple[str, str], ...]:
    return (("kms:ViaService", f"s3.{REGION}.amazonaws.com"),)


S3_KEY_USES = {"PutObject": ("kms:GenerateDataKey",), "GetObject": ("kms:Decrypt",)}
"""What S3 asks KMS for on the caller's behalf, for an object of a bucket encrypted with a customer key."""


def uses(template: dict[str, Any], calls: Iterable[aws_calls.Call],
         secret_tags: dict[str, dict[str, str]]) -> list[Use]:
    """The recorded calls of the functions' code paths, as uses of a role; a call that names nothing the
    template knows becomes a use of ``?<what it named>`` (never granted, so it fails the comparison)."""
    roles = function_roles(template)
    named = _environment_targets(template)
    queue_keys = _queue_keys(template)
    found: list[Use] = []
    for call in calls:
        if call.function is None:
            continue
        session = aws_calls.assumed(call.access_key)
        role = named.get(session[0], "?" + session[0]) if session else roles[call.function]
        tags = session[1] if session else {}
        why = call.test or ""
        found.extend(Use(call.function, *use) for use in
                     _call_uses(call, role, tags, named, queue_keys, secret_tags, roles[call.function], why))
    return found


def _call_uses(call: aws_calls.Call, role: str, tags: dict[str, str], named: dict[str, str],
               queue_keys: dict[str, str], secret_tags: dict[str, dict[str, str]], own_role: str,
               why: str) -> Iterator[tuple[str, str, str, tuple[tuple[str, Any], ...], str]]:
    principal = tuple((f"aws:PrincipalTag/{key}", value) for key, value in tags.items())
    if call.service == "dynamodb":
        tables = call.param("TableNames") or (call.param("TableName"),)
        for table in tables:
            resource = named.get(table, f"?{table}")
            index = call.param("IndexName")
            yield (role, call.action, f"{resource}/index/{index}" if index else resource, (), why)
    elif call.service == "sqs":
        queue = named.get(call.param("QueueUrl"), f"?{call.param('QueueUrl')}")
        yield (role, call.action, queue, (), why)
        if call.operation == "SendMessage" and queue in queue_keys:  # SQS encrypts with a data key of the queue's key
            for action in ("kms:GenerateDataKey", "kms:Decrypt"):
                yield (role, action, queue_keys[queue], _via_sqs(), f"{why} (SQS SendMessage to {queue})")
    elif call.service == "events":
        for bus, source in call.param("Entries") or ():
            yield (role, call.action, named.get(bus, f"?{bus}"), (("events:source", source),), why)
    elif call.service == "sts" and call.operation == "AssumeRole":
        target = named.get(call.param("RoleArn"), f"?{call.param('RoleArn')}")
        yield (role, "sts:AssumeRole", target, (), why)
        yield (target + TRUST, "sts:AssumeRole", own_role, (), why)
        requested = dict(call.param("Tags") or ())
        if requested:
            context = (*(("aws:RequestTag/" + k, v) for k, v in requested.items()), ("aws:TagKeys", tuple(requested)))
            yield (role, "sts:TagSession", target, context, why)
            yield (target + TRUST, "sts:TagSession", own_role, context, why)
    elif call.service == "s3":
        bucket = named.get(call.param("Bucket"), f"?{call.param('Bucket')}")
        if call.operation == "ListObjectsV2":  # IAM names it after the bucket it lists
            yield (role, "s3:ListBucket", bucket, (), why)
        else:
            action = "s3:DeleteObject" if call.operation == "DeleteObjects" else call.action  # one per object
            for key in call.param("Keys") or (call.param("Key"),):
                yield (role, action, f"{bucket}/{key or ''}", (), why)
        key = queue_keys.get(bucket)
        if key is not None:
            for action in S3_KEY_USES.get(call.operation, ()):
                yield (role, action, key, _via_s3(), f"{why} (S3 {call.operation} of an encrypted object)")
    elif call.service == "kms":
        key = str(call.param("KeyId"))
        yield (role, call.action, named.get(key, f"?{key}"), (), why)
    elif call.service == "secretsmanager":
        secret = str(call.param("SecretId") or call.param("Name"))
        name = secret.split(":secret:", 1)[-1]
        if call.operation == "CreateSecret":  # with tags, AWS also asks for TagResource
            requested = dict(call.param("Tags") or ())
            context = (*principal, *(("aws:RequestTag/" + k, v) for k, v in requested.items()),
                       ("aws:TagKeys", tuple(requested)))
            yield (role, call.action, f"secret:{name}", context, why)
            if requested:
                yield (role, "secretsmanager:TagResource", f"secret:{name}", context, why)
            return
        resource_tags = tuple((f"secretsmanager:ResourceTag/{k}", v) for k, v in secret_tags.get(secret, {}).items())
        yield (role, call.action, f"secret:{name}", principal + resource_tags, why)
    else:
        yield (role, call.action, "?", (), why)


def _aliased(template: dict[str, Any], name: str) -> str:
    """The function a logical id names: itself, or the function of an alias (a mapping may invoke the alias
    SAM publishes for ``AutoPublishAlias``, the version SnapStart restores)."""
    resource = template["Resources"].get(name, {})
    if resource.get("Type") == "AWS::Lambda::Alias":
        return _render(template, resource["Properties"]["FunctionName"])
    return name


def platform_uses(template: dict[str, Any]) -> list[Use]:
    """Permissions AWS uses on a function's behalf (its code never calls them), derived from the template."""
    resources = template["Resources"]
    roles = function_roles(template)
    queue_keys = _queue_keys(template)
    found: list[Use] = []
    for mapping in (r["Properties"] for r in resources.values() if r["Type"] == "AWS::Lambda::EventSourceMapping"):
        function = _aliased(template, _render(template, mapping["FunctionName"]))
        role = roles[function]
        queue = _render(template, mapping["EventSourceArn"])
        why = f"the event source mapping of {queue} polls with the function's role"
        found.extend(Use(function, role, action, queue, (), why) for action in EVENT_SOURCE_MAPPING_ACTIONS)
        if queue in queue_keys:
            found.append(Use(function, role, "kms:Decrypt", queue_keys[queue], _via_sqs(), why + " (encrypted queue)"))
    for function_id, role in roles.items():
        props = resources[function_id]["Properties"]
        found.append(Use(function_id, role, "managed:" + LOGS_BY_THE_RUNTIME.rsplit("/", 1)[-1], "*", (),
                         "the Lambda runtime writes the function's logs"))
        if props.get("TracingConfig", {}).get("Mode") == "Active":
            found.append(Use(function_id, role, "managed:" + TRACES_BY_THE_RUNTIME.rsplit("/", 1)[-1], "*", (),
                             "active tracing: the Lambda runtime sends the function's segments"))
    return found


# -- matching ----------------------------------------------------------------------------------------------


def _pattern(text: str) -> re.Pattern[str]:
    return re.compile("".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in text))


def _substituted(text: str, use: Use) -> str | None:
    """``text`` with its policy variables filled from the use; None when one has no value (no match, as in IAM)."""
    missing = False

    def fill(match: re.Match[str]) -> str:
        nonlocal missing
        value = use.value(match.group(1))
        missing = missing or value is None
        return str(value or "")

    filled = re.sub(r"\$\{([\w:/-]+)\}", fill, text)
    return None if missing else filled


def _condition_holds(operator: str, key: str, allowed: tuple[str, ...], use: Use) -> bool:
    if key not in KNOWN_KEYS:
        raise AssertionError(f"the comparison does not know the condition key {key}: teach {__name__}")
    actual = use.value(key)
    values = [v for v in (_substituted(a, use) for a in allowed) if v is not None]
    if operator == "ForAllValues:StringEquals":
        return all(item in values for item in (actual or ()))
    if actual is None:
        return False
    if operator == "StringEquals":
        return actual in values
    if operator in ("StringLike", "ArnLike", "ArnEquals"):
        return any(_pattern(v).fullmatch(actual) for v in values)
    raise AssertionError(f"the comparison does not know the condition operator {operator}")


def allows(grant: Grant, use: Use) -> bool:
    if grant.role != use.role or not _pattern(grant.action).fullmatch(use.action):
        return False
    resource = _substituted(grant.resource, use)
    if resource is None or not _pattern(resource).fullmatch(use.resource):
        return False
    return all(_condition_holds(operator, key, values, use) for operator, key, values in grant.conditions)
