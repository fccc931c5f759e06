"""The Logs Insights queries in template.yaml read fields the handlers actually log.

The handlers run as deployed (the change worker on its queue, the sweeper on its schedule) through a day of
changes with a poison event and a provider failure that the sweeper retries; their log groups are what the
local deployment kept (``devstack.function_logs``). For every ``AWS::Logs::QueryDefinition``:

- every field it names (in ``fields``, ``filter``, ``stats``, ``sort``; Logs Insights' own ``@`` fields and the
  query's aliases aside) is a key of some line in the log groups it reads;
- the lines its literal filters select (``message = "provider call"``) exist and carry every field it shows;
- the appointment path, filtered by the failed appointment's id, finds the change worker's lines and the
  sweeper's retry, in time order.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import time
from typing import Any

import pytest

from calsync.domain.model import PrivacySettings
from calsync.store import ledger
from calsync.store.tables import LedgerItem
from devstack import sample_day
from devstack.cfn_template import load_template, render_sub, resources_of_type
from devstack.deployment import Deployment
from devstack.stack import LocalStack, StackResources
from tests.support.faults import Fault, FaultPlan, injected
from tests.support.pipeline import deliver
from tests.support.reliability import connect

TEMPLATE = load_template()
QUERIES = {name: resource["Properties"]
           for name, resource in resources_of_type(TEMPLATE, "AWS::Logs::QueryDefinition").items()}
KEYWORDS = {"fields", "filter", "stats", "sort", "limit", "by", "as", "asc", "desc", "and", "or", "not", "in",
            "like", "display", "parse", "dedup"}
FUNCTIONS = {"count", "latest", "earliest", "ispresent", "avg", "max", "min", "sum", "pct", "count_distinct",
             "bin", "strlen", "concat"}
PLACEHOLDER = "APPOINTMENT_ID"


def referenced(query: str) -> set[str]:
    """The log fields a query names."""
    text = re.sub(r'"[^"]*"', '""', query)
    aliases = set(re.findall(r"\bas\s+(\w+)", text))
    names = set(re.findall(r"(?<![@\w.])([A-Za-z_]\w*)\b(?!\s*\()", text))
    return names - KEYWORDS - FUNCTIONS - aliases


def literal_filters(query: str) -> dict[str, str]:
    return dict(re.findall(r'(\w+)\s*=\s*"([^"]*)"', query))


def group_names(properties: dict[str, Any]) -> set[str]:
    names = set()
    for group in properties["LogGroupNames"]:
        logical_id = group["Ref"]
        name = TEMPLATE["Resources"][logical_id]["Properties"]["LogGroupName"]["Fn::Sub"]
        names.add(render_sub(TEMPLATE, name, {"Environment": "local"}))
    return names


@pytest.fixture(scope="module")
def lines(deployment: Deployment, stack: LocalStack, stack_resources: StackResources) -> dict[str, Any]:
    """(log group → its calsync lines) after the scenario, and the failed appointment's id."""
    tenant_id = f"t-queries-{int(time.time())}"
    started = int(time.time() * 1000)
    clinician = connect(stack, tenant_id, sample_day.OKAFOR, privacy=PrivacySettings())
    with injected(FaultPlan()) as plan:
        plan.arm(Fault.UNAVAILABLE, clinician.integration.integration_id)  # the first write fails: a retry
        deliver(stack, stack_resources, [*sample_day.changes(tenant_id)[:3], sample_day.changes(tenant_id)[-1]])
        later = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
        (failed,) = [key for key in ledger.due(later, 1000) if key[0] == clinician.integration.integration_id]
        LedgerItem(*failed).update(actions=[LedgerItem.next_attempt_at.set(0)])  # due now
        deployment.run_schedule_now()  # the sweeper retries it
    by_group: dict[str, list[dict[str, Any]]] = {}
    for event in deployment.logs.events(since_ms=started):
        try:
            line = json.loads(event["message"])
        except ValueError:
            continue
        if isinstance(line, dict) and "message" in line and "_aws" not in line:
            by_group.setdefault(event["logGroupName"], []).append({**line, "@timestamp": event["timestamp"]})
    return {"groups": by_group, "appointment_id": failed[1].partition("#")[2], "tenant_id": tenant_id}


def test_there_are_the_four_queries():
    assert {p["Name"]["Fn::Sub"].rsplit("/", 1)[-1] for p in QUERIES.values()} == {
        "appointment-path", "errors-by-integration", "slowest-provider-calls", "rejected-changes-by-reason"}


@pytest.mark.parametrize("name", sorted(QUERIES))
def test_every_field_a_query_names_is_logged_in_its_groups(name: str, lines: dict[str, Any]):
    properties = QUERIES[name]
    logged = {key for group in group_names(properties) for line in lines["groups"].get(group, []) for key in line}
    missing = referenced(properties["QueryString"]) - logged
    assert not missing, f"{name} reads {sorted(missing)}, which no line of its log groups has"


@pytest.mark.parametrize("name", sorted(QUERIES))
def test_the_lines_a_query_selects_carry_what_it_shows(name: str, lines: dict[str, Any]):
    properties = QUERIES[name]
    filters = {k: v for k, v in literal_filters(properties["QueryString"]).items() if v != PLACEHOLDER}
    if not filters:
        return
    selected = [line for group in group_names(properties) for line in lines["groups"].get(group, [])
                if all(str(line.get(k)) == v for k, v in filters.items())]
    assert selected, f"{name}: no line has {filters}"
    shown = referenced(properties["QueryString"]) - set(filters)
    for line in selected:
        assert shown <= set(line), f"{name}: a selected line lacks {sorted(shown - set(line))}: {line}"


def test_the_appointment_path_finds_the_handler_and_the_sweepers_retry(lines: dict[str, Any]):
    (properties,) = [p for p in QUERIES.values() if p["Name"]["Fn::Sub"].endswith("/appointment-path")]
    assert literal_filters(properties["QueryString"]) == {"appointment_id": PLACEHOLDER}
    path = sorted((line for group in group_names(properties) for line in lines["groups"].get(group, [])
                   if line.get("appointment_id") == lines["appointment_id"]
                   and line.get("tenant_id", lines["tenant_id"]) == lines["tenant_id"]),
                  key=lambda line: line["@timestamp"])
    assert [line["message"] for line in path if line["message"] in ("provider call", "sync failed, retry scheduled",
                                                                     "change applied")] == [
        "provider call", "sync failed, retry scheduled", "change applied", "provider call"]
    calls = [line for line in path if line["message"] == "provider call"]
    assert [call["result"] for call in calls] == ["http_503", "ok"]
    assert calls[-1]["function_name"].endswith("retry-sweeper")
