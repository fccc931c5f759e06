"""The accounting of disclosures is append-only, kept for the configured retention, and nobody can change it.

Every policy document in template.yaml (function policies, roles, managed policies, key and queue policies) is
read: no statement that allows anything may allow changing or deleting a record of the Disclosures table,
whether it names the table, a pattern that covers it, or every resource; the functions that write calendars
may only put items into it. The table's own resource policy denies every change and delete to every principal
(the account's administrators included), and its records expire by TTL after ``DisclosureRetentionDays``,
which reaches the functions' settings.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterator
from typing import Any

import pytest

from calsync.core.settings import Settings
from devstack.cfn_template import (
    function_environment,
    load_template,
    properties,
    ref_target,
    render_sub,
    resources_of_type,
)

TEMPLATE = load_template()
TABLE = "DisclosuresTable"
TABLE_NAME = render_sub(TEMPLATE, properties(TEMPLATE, TABLE)["TableName"]["Fn::Sub"])
TABLE_ARN = f"arn:AWS::Partition:dynamodb:AWS::Region:AWS::AccountId:table/{TABLE_NAME}"
MODIFYING = {"dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem", "dynamodb:PartiQLUpdate",
             "dynamodb:PartiQLDelete", "dynamodb:DeleteTable", "dynamodb:UpdateTable", "dynamodb:UpdateTimeToLive",
             "dynamodb:RestoreTableFromBackup", "dynamodb:DeleteResourcePolicy", "dynamodb:PutResourcePolicy"}
WRITERS = ("OnAppointmentChangeFunction", "RetrySweeperFunction", "ConnectFunction", "IntegrationApiFunction")


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def policy_statements(node: Any, where: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every IAM statement anywhere in the template, with where it was found."""
    if isinstance(node, dict):
        if "Effect" in node and ("Action" in node or "NotAction" in node):
            yield where, node
        for key, value in node.items():
            yield from policy_statements(value, f"{where}.{key}" if where else key)
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from policy_statements(value, f"{where}[{index}]")


def resource_text(resource: Any) -> str:
    """A resource as text: ``Fn::Sub`` rendered offline, ``!GetAtt X.Arn`` as that table's ARN (or a marker)."""
    if isinstance(resource, str):
        return resource
    if isinstance(resource, dict) and "Fn::Sub" in resource:
        text = resource["Fn::Sub"]
        text = text if isinstance(text, str) else text[0]
        return render_sub(TEMPLATE, text).replace("${", "").replace("}", "")
    target = ref_target(resource)
    if target == TABLE:
        return TABLE_ARN
    return f"<{target}>"


def covers_table(resource: Any) -> bool:
    text = resource_text(resource)
    return text == TABLE_ARN or fnmatch.fnmatchcase(TABLE_ARN, text)


def matches(action: str, pattern: str) -> bool:
    return fnmatch.fnmatchcase(action.lower(), pattern.lower())


ALLOWS = [(where, s) for where, s in policy_statements(TEMPLATE["Resources"]) if s["Effect"] == "Allow"]


def test_the_search_finds_the_policies():
    assert any("OnAppointmentChangeFunction" in where for where, _ in ALLOWS)
    assert any("DataKey" in where for where, _ in ALLOWS)


@pytest.mark.parametrize(("where", "statement"), ALLOWS, ids=[w for w, _ in ALLOWS])
def test_no_statement_allows_changing_or_deleting_a_disclosure(where: str, statement: dict[str, Any]):
    assert "NotAction" not in statement and "NotResource" not in statement, f"{where}: NotAction/NotResource"
    if not any(covers_table(r) for r in as_list(statement.get("Resource", []))):
        return
    granted = {action for pattern in as_list(statement["Action"]) for action in MODIFYING if matches(action, pattern)}
    assert not granted, f"{where} allows {sorted(granted)} on the disclosures table"


@pytest.mark.parametrize("function_id", WRITERS)
def test_the_functions_that_write_calendars_may_only_append(function_id: str):
    actions = {action for where, s in ALLOWS if where.startswith(function_id)
               if any(covers_table(r) for r in as_list(s.get("Resource", []))) for action in as_list(s["Action"])}
    assert actions == {"dynamodb:PutItem"}, f"{function_id} on the disclosures table: {sorted(actions)}"


def test_only_the_functions_that_write_calendars_reach_the_table():
    reaching = {where.split(".")[0] for where, s in ALLOWS
                if any(covers_table(r) for r in as_list(s.get("Resource", [])))
                and not where.startswith(("DataKey", "ConnectLinkKey"))}  # key policies: the account's administrators
    assert reaching == set(WRITERS)


def test_the_table_denies_every_change_and_delete_to_everyone():
    table = properties(TEMPLATE, TABLE)
    (deny,) = [s for s in table["ResourcePolicy"]["PolicyDocument"]["Statement"] if s["Effect"] == "Deny"]
    assert deny["Principal"] == "*"
    assert "Condition" not in deny  # no exception for anyone
    assert covers_table(deny["Resource"])
    denied = set(as_list(deny["Action"]))
    for action in ("dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem", "dynamodb:PartiQLUpdate",
                   "dynamodb:PartiQLDelete", "dynamodb:DeleteTable"):
        assert action in denied
    assert table["DeletionProtectionEnabled"] is True
    assert TEMPLATE["Resources"][TABLE]["DeletionPolicy"] == "Retain"
    assert table["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    assert table["SSESpecification"]["SSEType"] == "KMS"


def test_records_expire_after_the_configured_retention_six_years_by_default():
    table = properties(TEMPLATE, TABLE)
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    parameter = TEMPLATE["Parameters"]["DisclosureRetentionDays"]
    assert parameter["Default"] >= 6 * 365
    settings_default = next(f.default for f in Settings.__dataclass_fields__.values()
                            if f.name == "disclosure_retention_days")
    assert settings_default == parameter["Default"]
    for function_id in WRITERS:
        variables = function_environment(TEMPLATE, function_id)
        assert variables["CALSYNC_DISCLOSURE_RETENTION_DAYS"] == {"Ref": "DisclosureRetentionDays"}
        assert variables["CALSYNC_DISCLOSURES_TABLE"] == {"Ref": TABLE}


def test_the_resource_policy_names_this_table():
    (deny,) = properties(TEMPLATE, TABLE)["ResourcePolicy"]["PolicyDocument"]["Statement"]
    assert resource_text(deny["Resource"]) == TABLE_ARN
    assert resources_of_type(TEMPLATE, "AWS::DynamoDB::Table")[TABLE]
