"""The invariants template.yaml must keep, checked offline (``make validate`` covers the CloudFormation syntax).

Runtime and layer, one log group with retention per function, the change pipeline (bus rule -> encrypted
queue with redrive -> partial-batch mapping whose visibility timeout covers six function timeouts), tables
that are recoverable and encrypted, scoped IAM, the HTTP routes the handlers expect, the alarms and the
dashboard built on the metric names in ``calsync.core.observability``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from calsync.core.observability import NAMESPACE, SERVICE, Metric
from calsync.core.settings import Settings
from devstack.cfn_template import (
    ROOT,
    function_environment,
    function_setting,
    load_template,
    properties,
    ref_target,
    render_sub,
    resources_of_type,
)

TEMPLATE = load_template()
FUNCTIONS = sorted(resources_of_type(TEMPLATE, "AWS::Serverless::Function"))
QUEUES = sorted(resources_of_type(TEMPLATE, "AWS::SQS::Queue"))
TABLES = sorted(resources_of_type(TEMPLATE, "AWS::DynamoDB::Table"))
ALARMS = resources_of_type(TEMPLATE, "AWS::CloudWatch::Alarm")
FOURTEEN_DAYS = 14 * 24 * 3600
BUSINESS_METRICS = {Metric.CHANGE_RECEIVED, Metric.APPOINTMENT_SYNCED, Metric.APPOINTMENT_REMOVED,
                    Metric.SYNC_SKIPPED_UNCHANGED, Metric.STALE_CHANGE_DROPPED, Metric.CHANGE_REJECTED,
                    Metric.SYNC_FAILED, Metric.SYNC_RETRY_SCHEDULED, Metric.SYNC_PARKED, Metric.SYNC_DEAD,
                    Metric.SYNC_LAG_SECONDS}
READ_ONLY_DYNAMODB = {"dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query"}
SAMPLES = sorted((ROOT / "events").glob("*.json"))
HTTP_SAMPLES = [p for p in SAMPLES if "routeKey" in json.loads(p.read_text(encoding="utf-8"))]


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def statements(function_id: str) -> list[dict[str, Any]]:
    """The inline policy statements of a function (SAM ``Policies`` entries that are documents)."""
    found = []
    for policy in as_list(properties(TEMPLATE, function_id).get("Policies", [])):
        if isinstance(policy, dict) and "Statement" in policy:
            found.extend(as_list(policy["Statement"]))
    return found


def allowed_actions(function_id: str) -> set[str]:
    return {action for s in statements(function_id) if s["Effect"] == "Allow" for action in as_list(s["Action"])}


def sqs_mappings() -> list[tuple[str, str, dict[str, Any]]]:
    """(function, queue, mapping properties) for every SQS trigger, SAM event or plain mapping."""
    mappings = []
    for mapping in resources_of_type(TEMPLATE, "AWS::Lambda::EventSourceMapping").values():
        props = mapping["Properties"]
        queue = ref_target(props["EventSourceArn"])
        if queue in QUEUES:
            mappings.append((str(ref_target(props["FunctionName"])), queue, props))
    for function_id in FUNCTIONS:
        for event in properties(TEMPLATE, function_id).get("Events", {}).values():
            if event["Type"] == "SQS":
                mappings.append((function_id, str(ref_target(event["Properties"]["Queue"])), event["Properties"]))
    return mappings


def dead_letter_queues() -> set[str]:
    """Queues that receive redriven messages or an EventBridge target's undeliverable events."""
    targets = {ref_target(properties(TEMPLATE, q).get("RedrivePolicy", {}).get("deadLetterTargetArn"))
               for q in QUEUES}
    for rule in resources_of_type(TEMPLATE, "AWS::Events::Rule").values():
        for target in rule["Properties"].get("Targets", []):
            targets.add(ref_target(target.get("DeadLetterConfig", {}).get("Arn")))
    return {t for t in targets if t in QUEUES}


SQS_MAPPINGS = sqs_mappings()
SQS_MAPPING_IDS = [f"{function_id}-{queue}" for function_id, queue, _ in SQS_MAPPINGS]


def http_routes() -> set[tuple[str, str, str]]:
    routes = set()
    for function_id in FUNCTIONS:
        for event in properties(TEMPLATE, function_id).get("Events", {}).values():
            if event["Type"] == "HttpApi":
                routes.add((event["Properties"]["Method"], event["Properties"]["Path"], function_id))
    return routes


def function_timeout(function_id: str) -> int:
    return int(function_setting(TEMPLATE, function_id, "Timeout") or 3)


def dashboard() -> dict[str, Any]:
    (name,) = resources_of_type(TEMPLATE, "AWS::CloudWatch::Dashboard")
    body = properties(TEMPLATE, name)["DashboardBody"]
    text = render_sub(TEMPLATE, body["Fn::Sub"]) if isinstance(body, dict) else body
    parsed: dict[str, Any] = json.loads(text)
    return parsed


def metric_names(widget: dict[str, Any], namespace: str) -> set[str]:
    return {line[1] for line in widget["properties"].get("metrics", []) if line[0] == namespace}


# -- functions ---------------------------------------------------------------------------------------------


def test_globals_set_runtime_logs_and_powertools():
    shared = TEMPLATE["Globals"]["Function"]
    assert shared["LoggingConfig"]["LogFormat"] == "JSON"
    variables = shared["Environment"]["Variables"]
    assert variables["POWERTOOLS_SERVICE_NAME"] == SERVICE
    assert variables["POWERTOOLS_METRICS_NAMESPACE"] == NAMESPACE


def test_the_functions_exist():
    assert set(FUNCTIONS) == {"OnAppointmentChangeFunction", "OnWebhookFunction", "RetrySweeperFunction",
                              "FeedFunction", "ConnectFunction", "IntegrationApiFunction", "PullWorkerFunction",
                              "AvailabilityFunction"}


@pytest.mark.parametrize("function_id", FUNCTIONS)
def test_function_runs_python313_on_arm64_with_the_layer(function_id):
    assert function_setting(TEMPLATE, function_id, "Runtime") == "python3.13"
    assert function_setting(TEMPLATE, function_id, "Architectures") == ["arm64"]
    assert {"Ref": "CommonLayer"} in function_setting(TEMPLATE, function_id, "Layers")
    assert function_setting(TEMPLATE, function_id, "Handler") == "app.lambda_handler"
    assert (ROOT / properties(TEMPLATE, function_id)["CodeUri"]).is_dir()


@pytest.mark.parametrize("function_id", FUNCTIONS)
def test_function_logs_to_its_own_group_with_retention(function_id):
    group_id = ref_target(function_setting(TEMPLATE, function_id, "LoggingConfig").get("LogGroup"))
    assert group_id is not None, f"{function_id} has no LoggingConfig.LogGroup"
    group = TEMPLATE["Resources"][group_id]
    assert group["Type"] == "AWS::Logs::LogGroup"
    assert group["Properties"].get("RetentionInDays"), f"{group_id} keeps logs forever"
    others = {ref_target(function_setting(TEMPLATE, f, "LoggingConfig").get("LogGroup"))
              for f in FUNCTIONS if f != function_id}
    assert group_id not in others


def test_functions_get_every_required_setting():
    """calsync.core.settings fails the cold start when a required variable is missing."""
    required = Settings.required_variables()
    for function_id in FUNCTIONS:
        missing = required - set(function_environment(TEMPLATE, function_id))
        assert not missing, f"{function_id} would fail at cold start: {sorted(missing)} not set"


def test_functions_that_publish_or_park_know_where():
    """A function may publish only on the bus it is told about, and send only to queues it is told about."""
    for function_id in FUNCTIONS:
        variables = function_environment(TEMPLATE, function_id)
        if "events:PutEvents" in allowed_actions(function_id):
            assert ref_target(variables.get("CALSYNC_EVENT_BUS_NAME")) == "EventBus", function_id
        named = {ref_target(value) for name, value in variables.items() if name.endswith("_QUEUE_URL")}
        for statement in statements(function_id):
            if "sqs:SendMessage" in as_list(statement["Action"]):
                assert {ref_target(r) for r in as_list(statement["Resource"])} <= named, function_id


def test_layer_is_built_by_makefile_for_arm64():
    layer = TEMPLATE["Resources"]["CommonLayer"]
    assert layer["Metadata"] == {"BuildMethod": "makefile", "BuildArchitecture": "arm64"}
    assert layer["Properties"]["CompatibleRuntimes"] == ["python3.13"]
    makefile = (ROOT / layer["Properties"]["ContentUri"] / "Makefile").read_text(encoding="utf-8")
    assert "build-CommonLayer:" in makefile
    assert "--platform manylinux2014_aarch64" in makefile
    assert "--python-version 3.13" in makefile


# -- change pipeline ---------------------------------------------------------------------------------------


def test_each_work_queue_has_exactly_one_consumer():
    consumers = sorted((function_id, queue) for function_id, queue, _ in SQS_MAPPINGS)
    assert consumers == [("OnAppointmentChangeFunction", "ChangesQueue"), ("PullWorkerFunction", "PullQueue")]


@pytest.mark.parametrize(("function_id", "queue", "mapping"), SQS_MAPPINGS, ids=SQS_MAPPING_IDS)
def test_visibility_timeout_covers_six_function_timeouts(function_id, queue, mapping):
    visibility = int(properties(TEMPLATE, queue)["VisibilityTimeout"])
    assert visibility >= 6 * function_timeout(function_id)


@pytest.mark.parametrize(("function_id", "queue", "mapping"), SQS_MAPPINGS, ids=SQS_MAPPING_IDS)
def test_sqs_mapping_reports_partial_failures_and_is_bounded(function_id, queue, mapping):
    assert "ReportBatchItemFailures" in mapping["FunctionResponseTypes"]
    assert 2 <= mapping["ScalingConfig"]["MaximumConcurrency"] <= 1000
    assert mapping["BatchSize"] >= 1
    assert "MaximumBatchingWindowInSeconds" in mapping


@pytest.mark.parametrize("queue", QUEUES)
def test_queue_is_encrypted(queue):
    props = properties(TEMPLATE, queue)
    assert props.get("KmsMasterKeyId") or props.get("SqsManagedSseEnabled") is True


@pytest.mark.parametrize("queue", QUEUES)
def test_queue_has_a_dead_letter_queue_or_is_one(queue):
    props = properties(TEMPLATE, queue)
    if queue in dead_letter_queues():
        assert props["MessageRetentionPeriod"] == FOURTEEN_DAYS
        assert "RedrivePolicy" not in props
    else:
        redrive = props["RedrivePolicy"]
        assert ref_target(redrive["deadLetterTargetArn"]) in dead_letter_queues()
        assert redrive["maxReceiveCount"] == 5


def test_the_dead_letter_queues_exist():
    assert dead_letter_queues() == {"ChangesDeadLetterQueue", "ChangesRuleDeadLetterQueue", "PullDeadLetterQueue"}


def test_bus_rule_routes_ehr_changes_with_retries_and_a_dead_letter_queue():
    rule = properties(TEMPLATE, "ChangesRule")
    assert ref_target(rule["EventBusName"]) == "EventBus"
    assert properties(TEMPLATE, "EventBus")["Name"] == {"Fn::Sub": "calsync-${Environment}"}
    assert rule["EventPattern"] == {"source": [{"prefix": "ehr."}], "detail-type": ["Appointment Changed"]}
    (target,) = rule["Targets"]
    assert ref_target(target["Arn"]) == "ChangesQueue"
    assert target["RetryPolicy"]["MaximumRetryAttempts"] >= 1
    assert target["RetryPolicy"]["MaximumEventAgeInSeconds"] >= 60
    assert ref_target(target["DeadLetterConfig"]["Arn"]) in dead_letter_queues()


@pytest.mark.parametrize("queue", ["ChangesQueue", "ChangesRuleDeadLetterQueue"])
def test_only_the_rule_may_send_to_its_queues(queue):
    (policy,) = [p["Properties"] for p in resources_of_type(TEMPLATE, "AWS::SQS::QueuePolicy").values()
                 if {"Ref": queue} in p["Properties"]["Queues"]]
    allows = [s for s in policy["PolicyDocument"]["Statement"] if s["Effect"] == "Allow"]
    assert allows, f"nothing may send to {queue}"
    for statement in allows:
        assert statement["Principal"] == {"Service": "events.amazonaws.com"}
        assert as_list(statement["Action"]) == ["sqs:SendMessage"]
        assert ref_target(statement["Condition"]["ArnEquals"]["aws:SourceArn"]) == "ChangesRule"


def test_sample_changes_are_routed_by_the_rule():
    pattern = properties(TEMPLATE, "ChangesRule")["EventPattern"]
    samples = [json.loads(p.read_text(encoding="utf-8")) for p in SAMPLES]
    changes = [s for s in samples if s.get("detail-type") == "Appointment Changed"]
    assert changes, "no Appointment Changed sample in events/"
    for sample in changes:
        assert sample["detail-type"] in pattern["detail-type"]
        assert any(sample["source"].startswith(p["prefix"]) for p in pattern["source"])


# -- schedule and HTTP API ---------------------------------------------------------------------------------


def test_sweeper_runs_every_minute():
    events = properties(TEMPLATE, "RetrySweeperFunction")["Events"].values()
    schedules = [e["Properties"]["Schedule"] for e in events if e["Type"] in ("Schedule", "ScheduleV2")]
    assert schedules == ["rate(1 minute)"]


def test_http_routes():
    assert http_routes() == {
        ("GET", "/feeds/{file}", "FeedFunction"),
        ("HEAD", "/feeds/{file}", "FeedFunction"),
        ("POST", "/webhooks/{provider}", "OnWebhookFunction"),
        ("GET", "/connect/{proxy+}", "ConnectFunction"),
        ("POST", "/connect/{proxy+}", "ConnectFunction"),
        ("ANY", "/api/{proxy+}", "IntegrationApiFunction"),
        ("POST", "/webhooks/platforms/{platform}/{tenant}", "OnWebhookFunction"),
        ("POST", "/webhooks/platforms/{platform}/{tenant}/{secret}", "OnWebhookFunction"),
        ("GET", "/tenants/{tenant_id}/practitioners/{practitioner_id}/busy", "AvailabilityFunction"),
    }


def _answers(route: str, path: str) -> bool:
    """Whether the HTTP API's ``route`` (``{name}`` one segment) sends requests for ``path`` (a Router rule
    written the same way; its ``{name}`` only where the route has one too)."""
    pairs = list(zip(route.split("/"), path.split("/"), strict=False))
    return (len(route.split("/")) == len(path.split("/"))
            and all(r == p or (r.startswith("{") and not p.startswith("{")) for r, p in pairs))


def test_every_route_of_the_webhook_routers_is_a_route_of_the_template():
    """on_webhook's Router modules (calendar notifications, booking platforms) answer only what the template's
    routes send them, and every route of the template reaches one of them."""
    import importlib
    import re

    from functions.on_webhook.app import ROUTERS

    served = {(method, re.sub(r"<(\w+)>", r"{\1}", rule))
              for name in ROUTERS
              for rule, methods, *_ in importlib.import_module(f"functions.on_webhook.{name}").router._routes
              for method in methods}
    routed = {(method, path) for method, path, function_id in http_routes() if function_id == "OnWebhookFunction"}
    for method, path in served:
        assert any(m == method and _answers(route, path) for m, route in routed), (method, path)
    for method, route in routed:
        assert any(m == method and _answers(route, path) for m, path in served), (method, route)
    assert {route for route in routed if route[1].startswith("/webhooks/platforms/")} == \
        {route for route in served if route[1].startswith("/webhooks/platforms/")}


def test_booking_platform_events_are_published_under_a_source_the_rule_routes():
    from calsync.services.platforms.publishing import event_source

    pattern = properties(TEMPLATE, "ChangesRule")["EventPattern"]
    assert any(event_source("calendly").startswith(p["prefix"]) for p in pattern["source"])
    for function_id in ("OnWebhookFunction", "RetrySweeperFunction"):
        (allowed,) = [s for s in statements(function_id) if s.get("Sid") == "PublishPlatformChanges"]
        assert allowed["Condition"] == {"StringLike": {"events:source": event_source("*")}}


def test_availability_is_iam_authorised_and_reads_one_index():
    (event,) = properties(TEMPLATE, "AvailabilityFunction")["Events"].values()
    assert event["Properties"]["Auth"] == {"Authorizer": "AWS_IAM"}
    (api_id,) = resources_of_type(TEMPLATE, "AWS::Serverless::HttpApi")
    assert properties(TEMPLATE, api_id)["Auth"]["EnableIamAuthorizer"] is True
    assert allowed_actions("AvailabilityFunction") == {"dynamodb:Query"}


def test_only_the_ehrs_routes_take_iam_signed_calls_and_they_take_nothing_else():
    """The integration API and the availability route are the EHR's backend's (AWS_IAM); every other route
    is a browser's, a calendar app's or a provider's."""
    for function_id in FUNCTIONS:
        for event in (properties(TEMPLATE, function_id).get("Events") or {}).values():
            if event["Type"] == "HttpApi":
                authorizer = (event["Properties"].get("Auth") or {}).get("Authorizer")
                assert (authorizer == "AWS_IAM") == (function_id in ("IntegrationApiFunction",
                                                                     "AvailabilityFunction")), function_id
    (api_id,) = resources_of_type(TEMPLATE, "AWS::Serverless::HttpApi")
    auth = properties(TEMPLATE, api_id)["Auth"]
    assert auth["EnableIamAuthorizer"] is True and "DefaultAuthorizer" not in auth  # SAM needs it for AWS_IAM routes


def test_only_the_integration_api_signs_connect_links_and_the_page_only_verifies_them():
    assert "kms:GenerateMac" in allowed_actions("IntegrationApiFunction")
    assert "kms:VerifyMac" not in allowed_actions("IntegrationApiFunction")
    assert "kms:VerifyMac" in allowed_actions("ConnectFunction")
    assert "kms:GenerateMac" not in allowed_actions("ConnectFunction")
    key = properties(TEMPLATE, "ConnectLinkKey")
    assert (key["KeySpec"], key["KeyUsage"]) == ("HMAC_256", "GENERATE_VERIFY_MAC")


def test_http_api_is_throttled_and_logs_no_paths():
    """A feed URL's path carries its token, so the access log records the route key instead."""
    (api_id,) = resources_of_type(TEMPLATE, "AWS::Serverless::HttpApi")
    api = properties(TEMPLATE, api_id)
    assert api["DefaultRouteSettings"]["ThrottlingBurstLimit"] > 0
    assert api["DefaultRouteSettings"]["ThrottlingRateLimit"] > 0
    log_format = api["AccessLogSettings"]["Format"]
    assert "$context.routeKey" in log_format
    for leaky in ("$context.path", "$context.http.path", "$context.rawPath"):
        assert leaky not in log_format
    assert ref_target(api["AccessLogSettings"]["DestinationArn"]) in resources_of_type(TEMPLATE,
                                                                                       "AWS::Logs::LogGroup")
    json.loads(log_format)


@pytest.mark.parametrize("sample", HTTP_SAMPLES, ids=lambda p: Path(p).name)
def test_sample_http_events_hit_a_route(sample):
    event = json.loads(sample.read_text(encoding="utf-8"))
    route_keys = {f"{method} {path}" for method, path, _ in http_routes()}
    assert event["routeKey"] in route_keys
    assert event["routeKey"].split(" ")[0] in ("ANY", event["requestContext"]["http"]["method"])
    assert set(event["pathParameters"]) == set(re.findall(r"\{(\w+)\+?\}", event["routeKey"]))


# -- tables and IAM ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("table", TABLES)
def test_table_is_on_demand_recoverable_encrypted_and_retained(table):
    resource = TEMPLATE["Resources"][table]
    props = resource["Properties"]
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    assert props["SSESpecification"]["SSEEnabled"] is True
    assert props["SSESpecification"]["SSEType"] == "KMS"
    assert resource["DeletionPolicy"] == "Retain"
    assert resource["UpdateReplacePolicy"] == "Retain"


@pytest.mark.parametrize("function_id", FUNCTIONS)
def test_policies_name_actions_and_resources(function_id):
    """(Which actions each role needs is tests/infrastructure/test_least_privilege.py's to say.)"""
    for statement in statements(function_id):
        for action in as_list(statement["Action"]):
            assert "*" not in action, f"{function_id}: wildcard action {action}"
        for resource in as_list(statement["Resource"]):
            assert resource != "*", f"{function_id}: {statement.get('Sid')} on every resource"
    managed = [p for p in as_list(properties(TEMPLATE, function_id).get("Policies", [])) if isinstance(p, str)]
    assert not managed, f"{function_id} attaches managed policies {managed}"


def test_the_feed_reads_counts_its_requests_and_caches_bodies_nothing_more():
    actions = allowed_actions("FeedFunction")
    assert {a for a in actions if a.startswith("dynamodb:")} - READ_ONLY_DYNAMODB == {"dynamodb:UpdateItem"}
    assert {a for a in actions if a.startswith("s3:")} == {"s3:GetObject", "s3:PutObject"}
    assert {a.split(":")[0] for a in actions} == {"dynamodb", "s3", "kms"}
    updated: set[str] = set()
    for statement in statements("FeedFunction"):
        resources = [render_sub(TEMPLATE, r["Fn::Sub"]) if isinstance(r, dict) and "Fn::Sub" in r else r
                     for r in as_list(statement["Resource"])]
        if "dynamodb:UpdateItem" in as_list(statement["Action"]):
            updated |= {str(ref_target(r)) for r in resources}
        if any(a.startswith("s3:") for a in as_list(statement["Action"])):  # only the bodies' prefix
            assert resources == ["FeedCacheBucket.Arn/feeds/*"]
    assert updated == {"FeedTokensTable", "FeedsTable"}  # a URL's count, the stored version: never the events


def test_functions_reach_secrets_only_through_the_tenant_secrets_role():
    """Secrets are read in a role session tagged with one tenant (tests/infrastructure/test_tenant_secrets_role.py)."""
    for function_id in FUNCTIONS:
        for statement in statements(function_id):
            for action in as_list(statement["Action"]):
                if action.startswith("secretsmanager:"):  # only the deployment's OAuth clients, read-only
                    assert action == "secretsmanager:GetSecretValue", function_id
                    assert statement["Resource"]["Fn::Sub"].endswith(":secret:calsync/_deployment/oauth/*")
    readers = {"OnAppointmentChangeFunction", "RetrySweeperFunction", "ConnectFunction", "IntegrationApiFunction",
               "PullWorkerFunction",  # provider credentials
               "OnWebhookFunction"}  # booking platforms' signing secrets and API tokens
    for function_id in FUNCTIONS:
        environment = function_environment(TEMPLATE, function_id)
        role = environment.get("CALSYNC_TENANT_SECRETS_ROLE_ARN")
        manager = environment.get("CALSYNC_TENANT_SECRETS_MANAGER_ROLE_ARN")
        assert role == ({"Fn::GetAtt": ["TenantSecretsRole", "Arn"]} if function_id in readers else None), function_id
        managing = function_id in ("ConnectFunction", "IntegrationApiFunction")
        assert manager == ({"Fn::GetAtt": ["TenantSecretsManagerRole", "Arn"]} if managing else None), function_id


# -- alarms and dashboard ----------------------------------------------------------------------------------


def alarms_on(namespace: str, metric: str) -> list[dict[str, Any]]:
    return [a["Properties"] for a in ALARMS.values()
            if a["Properties"].get("Namespace") == namespace and a["Properties"].get("MetricName") == metric]


def test_every_alarm_notifies_the_encrypted_topic():
    assert properties(TEMPLATE, "AlarmTopic")["KmsMasterKeyId"]
    for name, alarm in ALARMS.items():
        assert alarm["Properties"]["AlarmActions"] == [{"Ref": "AlarmTopic"}], name


@pytest.mark.parametrize("queue", sorted(dead_letter_queues()))
def test_dead_letter_queue_depth_alarms(queue):
    matching = [a for a in alarms_on("AWS/SQS", "ApproximateNumberOfMessagesVisible")
                if ref_target(a["Dimensions"][0]["Value"]) == queue]
    assert len(matching) == 1
    assert matching[0]["Threshold"] == 0
    assert matching[0]["ComparisonOperator"] == "GreaterThanThreshold"


@pytest.mark.parametrize("function_id", FUNCTIONS)
def test_function_errors_alarm(function_id):
    assert [a for a in alarms_on("AWS/Lambda", "Errors") if ref_target(a["Dimensions"][0]["Value"]) == function_id]


def test_business_alarms_use_the_emitted_metric_identity():
    """Powertools emits every metric with the dimension service=<service>; an alarm without it never fires."""
    (dead,) = alarms_on(NAMESPACE, Metric.SYNC_DEAD)
    assert dead["Threshold"] == 0
    assert dead["ComparisonOperator"] == "GreaterThanThreshold"
    (lag,) = alarms_on(NAMESPACE, Metric.SYNC_LAG_SECONDS)
    assert lag["ExtendedStatistic"] == "p99"
    for alarm in (dead, lag):
        assert alarm["Dimensions"] == [{"Name": "service", "Value": SERVICE}]


def test_dashboard_first_row_is_the_business_metrics():
    widgets = dashboard()["widgets"]
    first_row = [w for w in widgets if w["y"] == 0]
    assert {name for w in first_row for name in metric_names(w, NAMESPACE)} == BUSINESS_METRICS
    assert all(w["y"] > 0 for w in widgets if w not in first_row)


def test_every_calsync_metric_in_alarms_and_dashboard_is_emitted():
    emitted = {value for name, value in vars(Metric).items() if not name.startswith("_")}
    used = {name for w in dashboard()["widgets"] for name in metric_names(w, NAMESPACE)}
    used |= {a["Properties"]["MetricName"] for a in ALARMS.values() if a["Properties"].get("Namespace") == NAMESPACE}
    assert used <= emitted
    for widget in dashboard()["widgets"]:
        for line in widget["properties"].get("metrics", []):
            if line[0] == NAMESPACE:
                assert line[2:4] == ["service", SERVICE], line


def test_no_deployed_function_runs_in_local_development_mode():
    """Local development lets calsync send credentials over plain http and tokens to loopback simulators;
    a deployment must never switch it on, nor point a provider endpoint anywhere."""
    template = load_template()
    environments = [template["Globals"]["Function"].get("Environment", {}).get("Variables", {})]
    environments += [resource["Properties"].get("Environment", {}).get("Variables", {})
                     for resource in template["Resources"].values() if resource["Type"] == "AWS::Serverless::Function"]
    for variables in environments:
        assert "CALSYNC_LOCAL_DEVELOPMENT" not in variables
        assert not [name for name in variables if name.startswith(("CALSYNC_GOOGLE_", "CALSYNC_GRAPH_",
                                                                   "CALSYNC_MICROSOFT_"))
                    and not name.endswith("_OAUTH_APP_SECRET")]  # which secret holds the OAuth client: no endpoint


SNAPSTART = ("OnAppointmentChangeFunction", "RetrySweeperFunction", "FeedFunction", "ConnectFunction",
             "IntegrationApiFunction")


@pytest.mark.parametrize("function_id", SNAPSTART)
def test_heavy_functions_start_from_a_snapshot_of_their_init(function_id):
    """Their init imports and builds everything an invocation needs (calsync.services.warm): with SnapStart
    that runs once per published version, and calsync.core.snapshot renews what must be unique."""
    props = properties(TEMPLATE, function_id)
    assert props["SnapStart"] == {"ApplyOn": "PublishedVersions"}
    assert props["AutoPublishAlias"]  # SnapStart applies to published versions only


def test_the_queue_invokes_the_published_alias_not_latest():
    (mapping,) = [props for function_id, _, props in sqs_mappings() if function_id == "OnAppointmentChangeFunction"]
    assert mapping["FunctionName"] == {"Ref": "OnAppointmentChangeFunction.Alias"}
# -- the key -----------------------------------------------------------------------------------------------


def _key_statement(sid: str) -> dict[str, Any]:
    (statement,) = [s for s in properties(TEMPLATE, "DataKey")["KeyPolicy"]["Statement"] if s["Sid"] == sid]
    found: dict[str, Any] = statement
    return found


def _patterns(values: Any) -> list[re.Pattern[str]]:
    texts = [render_sub(TEMPLATE, v["Fn::Sub"]) if isinstance(v, dict) else v for v in as_list(values)]
    return [re.compile(re.escape(t).replace(r"\*", ".*")) for t in texts]


def test_cloudwatch_logs_may_use_the_key_for_this_stacks_log_groups_only():
    condition = _key_statement("CloudWatchLogsEncryptsLogGroups")["Condition"]["ArnLike"]
    patterns = _patterns(condition["kms:EncryptionContext:aws:logs:arn"])
    groups = [render_sub(TEMPLATE, properties(TEMPLATE, g)["LogGroupName"]["Fn::Sub"])
              for g in resources_of_type(TEMPLATE, "AWS::Logs::LogGroup")]
    for group in groups:
        arn = f"arn:AWS::Partition:logs:AWS::Region:AWS::AccountId:log-group:{group}"
        assert any(p.fullmatch(arn) for p in patterns), f"the key cannot encrypt {group}"
    for outside in ("/aws/lambda/someone-else", "/aws/lambda/calsync-prod/x", "/aws/vendedlogs/other"):
        arn = f"arn:AWS::Partition:logs:AWS::Region:AWS::AccountId:log-group:{outside}"
        assert not any(p.fullmatch(arn) for p in patterns), f"the key serves a log group of another stack: {outside}"


def test_eventbridge_and_alarms_may_use_the_key_for_this_stacks_rules_and_alarms_only():
    bus_name = render_sub(TEMPLATE, properties(TEMPLATE, "EventBus")["Name"]["Fn::Sub"])
    (rule,) = _patterns(_key_statement("EventBridgeDeliversToEncryptedQueues")["Condition"]["ArnLike"]["aws:SourceArn"])
    assert rule.fullmatch(f"arn:AWS::Partition:events:AWS::Region:AWS::AccountId:rule/{bus_name}/calsync-changes")
    assert not rule.fullmatch("arn:AWS::Partition:events:AWS::Region:AWS::AccountId:rule/default/anything")
    (alarm,) = _patterns(_key_statement("CloudWatchAlarmsPublishToEncryptedTopic")["Condition"]["ArnLike"][
        "aws:SourceArn"])
    alarms = "arn:AWS::Partition:cloudwatch:AWS::Region:AWS::AccountId:alarm:"
    assert alarm.fullmatch(f"{alarms}AWS::StackName-SyncDeadAlarm-X1")
    assert not alarm.fullmatch(f"{alarms}other-stack-Alarm")
    assert all("AlarmName" not in alarm_props["Properties"] for alarm_props in ALARMS.values()), \
        "a named alarm does not start with the stack name: the key would refuse its notifications"
