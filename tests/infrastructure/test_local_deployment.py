"""The running local deployment has template.yaml's queues, rule pattern and tables, read back from moto and
DynamoDB Local themselves and compared with the template (read here as plain YAML), the way
``test_template_tables.py`` compares the table models: a change on either side fails here.

Queue durations are compared through the one factor the test deployment divides them by (``TIME_SCALE``);
counts (``maxReceiveCount``, retention) are compared as they are.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from calsync.core.settings import Settings
from calsync.domain.contract import DETAIL_TYPE, SOURCE_PREFIX
from devstack.cfn_template import function_environment, load_template, ref_target, render_sub, resources_of_type
from devstack.deployment import Deployment
from tests.conftest import ENGINE_LEASE_SECONDS, TIME_SCALE

TEMPLATE = load_template()
QUEUES = sorted(resources_of_type(TEMPLATE, "AWS::SQS::Queue"))
TABLES = sorted(resources_of_type(TEMPLATE, "AWS::DynamoDB::Table"))


def local(text: str) -> str:
    return render_sub(TEMPLATE, text, {"Environment": "local"})


def queue_attributes(deployment: Deployment, logical_id: str) -> dict[str, str]:
    url = deployment.stack.resources.queue_urls[logical_id]
    attributes = deployment.stack.client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["All"])
    return {str(name): value for name, value in attributes["Attributes"].items()}


@pytest.mark.parametrize("queue", QUEUES)
def test_queue_has_the_template_settings(deployment: Deployment, queue: str):
    props: dict[str, Any] = TEMPLATE["Resources"][queue]["Properties"]
    actual = queue_attributes(deployment, queue)
    visibility = int(props.get("VisibilityTimeout", 30))  # SQS's default when the template says nothing
    assert int(actual["VisibilityTimeout"]) == max(1, round(visibility / TIME_SCALE))
    assert int(actual["MessageRetentionPeriod"]) == int(props["MessageRetentionPeriod"])
    redrive = props.get("RedrivePolicy")
    if redrive is None:
        assert "RedrivePolicy" not in actual
        return
    policy = json.loads(actual["RedrivePolicy"])
    assert int(policy["maxReceiveCount"]) == int(redrive["maxReceiveCount"])
    dead_letter = ref_target(redrive["deadLetterTargetArn"])
    assert dead_letter is not None
    assert policy["deadLetterTargetArn"] == queue_attributes(deployment, dead_letter)["QueueArn"]


def test_the_changes_queue_keeps_the_ratio_of_visibility_timeout_to_the_engines_lease(deployment: Deployment):
    (mapping,) = [m for m in resources_of_type(TEMPLATE, "AWS::Lambda::EventSourceMapping").values()
                  if ref_target(m["Properties"]["FunctionName"]) == "OnAppointmentChangeFunction"]
    queue = ref_target(mapping["Properties"]["EventSourceArn"])
    assert queue is not None
    template_visibility = int(TEMPLATE["Resources"][queue]["Properties"]["VisibilityTimeout"])
    lease = ENGINE_LEASE_SECONDS
    local_visibility = int(queue_attributes(deployment, queue)["VisibilityTimeout"])
    assert template_visibility % TIME_SCALE == 0 and lease % TIME_SCALE == 0, "the scale must divide both exactly"
    assert local_visibility / (lease / TIME_SCALE) == template_visibility / lease


def test_rules_route_the_template_pattern_to_the_template_targets(deployment: Deployment):
    events = deployment.stack.client("events")
    bus = deployment.stack.resources.event_bus_name
    (bus_resource,) = resources_of_type(TEMPLATE, "AWS::Events::EventBus").values()
    assert bus == local(bus_resource["Properties"]["Name"]["Fn::Sub"])
    local_rules = {rule["Name"]: rule for rule in events.list_rules(EventBusName=bus)["Rules"]}
    for rule_id, rule in resources_of_type(TEMPLATE, "AWS::Events::Rule").items():
        props = rule["Properties"]
        (found,) = [r for r in local_rules.values() if json.loads(r["EventPattern"]) == props["EventPattern"]]
        assert found["State"] == props["State"], rule_id
        targets = {t["Id"]: t for t in events.list_targets_by_rule(Rule=found["Name"], EventBusName=bus)["Targets"]}
        for target in props["Targets"]:
            queue = ref_target(target["Arn"])
            assert queue is not None
            assert targets[target["Id"]]["Arn"] == queue_attributes(deployment, queue)["QueueArn"]
            if "DeadLetterConfig" in target:
                dead_letter = ref_target(target["DeadLetterConfig"]["Arn"])
                assert dead_letter is not None
                assert targets[target["Id"]]["DeadLetterConfig"]["Arn"] == (
                    queue_attributes(deployment, dead_letter)["QueueArn"])


def test_the_rule_pattern_is_the_contracts():
    (rule,) = resources_of_type(TEMPLATE, "AWS::Events::Rule").values()
    assert rule["Properties"]["EventPattern"] == {"source": [{"prefix": SOURCE_PREFIX}], "detail-type": [DETAIL_TYPE]}


@pytest.mark.parametrize("table", TABLES)
def test_table_exists_under_its_template_name_and_the_functions_are_told_it(deployment: Deployment, table: str):
    name = local(TEMPLATE["Resources"][table]["Properties"]["TableName"]["Fn::Sub"])
    described = deployment.stack.client("dynamodb").describe_table(TableName=name)["Table"]
    keys = {(k["AttributeName"], k["KeyType"]) for k in described["KeySchema"]}
    assert keys == {(k["AttributeName"], k["KeyType"]) for k in TEMPLATE["Resources"][table]["Properties"]["KeySchema"]}
    variables = [variable for variable, value in TEMPLATE["Globals"]["Function"]["Environment"]["Variables"].items()
                 if ref_target(value) == table]
    assert variables and all(deployment.env()[variable] == name for variable in variables)


def test_every_function_setting_the_template_passes_reaches_the_local_functions(deployment: Deployment):
    env = deployment.env()
    for function in resources_of_type(TEMPLATE, "AWS::Serverless::Function"):
        for variable in function_environment(TEMPLATE, function):
            assert env.get(variable), f"{function}: {variable} is not set locally"
    assert Settings.required_variables() <= set(env)
    assert env["CALSYNC_DEAD_LETTER_QUEUE_URL"] == deployment.stack.resources.changes.dlq_url
