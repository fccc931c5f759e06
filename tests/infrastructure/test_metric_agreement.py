"""The dashboard and the alarms read exactly what the code emits, and the code emits nothing no one reads.

**What the code emits** is derived from the code itself, not from a list: every call of the emitting helpers
of ``calsync.core.observability`` (``count``, ``seconds``, ``count_by``, ``seconds_by``, ``level_by``) in the
deployed code (``layers/common/calsync``, ``functions``) is read with :mod:`ast`. A plain call emits the
metric with the dimension ``service``; a ``*_by`` call emits it with ``service`` and again with ``service``
plus its dimension. The metric must be written ``Metric.<NAME>`` and the dimension as a string literal, and
nothing else may call Powertools' ``add_metric`` or ``single_metric``: a metric that escapes the derivation
fails here.

**What the template reads**: every ``CalSync`` line of every dashboard widget (an explicit line names its
dimensions; a ``SEARCH`` expression names them in its ``{CalSync,...}`` schema) and every alarm (its metric, or
each ``MetricStat`` of a metric-math alarm).

The rule, per (metric name, set of dimension names):

1. everything the template reads is emitted (a widget or alarm on a metric nothing emits shows nothing, and
   an alarm on it never fires);
2. everything emitted is read by a widget or an alarm (a metric no one looks at costs money and tells no one);
3. every name in ``Metric`` is emitted somewhere (no dead names);
4. dimension values written in the template are the emitted ones: ``service`` is ``calsync``, and a closed set
   (statuses, providers, retry reasons) holds the value named.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from calsync.core.observability import NAMESPACE, SERVICE, Metric
from calsync.domain.model import IntegrationStatus, Provider
from calsync.domain.retry_policy import RETRY_REASONS
from devstack.cfn_template import ROOT, load_template, properties, render_sub, resources_of_type

TEMPLATE = load_template()
CODE = [*sorted((ROOT / "layers/common/calsync").rglob("*.py")), *sorted((ROOT / "functions").rglob("*.py"))]
OBSERVABILITY = ROOT / "layers/common/calsync/core/observability.py"
PLAIN = {"count", "seconds"}
BROKEN_DOWN = {"count_by", "seconds_by", "level_by"}
CLOSED_SETS: dict[tuple[str, str], frozenset[str]] = {
    (Metric.INTEGRATIONS, "status"): frozenset(IntegrationStatus),
    (Metric.INTEGRATION_STATUS_CHANGED, "status"): frozenset(IntegrationStatus),
    (Metric.SYNC_LAG_SECONDS, "provider"): frozenset(Provider),
    (Metric.SYNC_RETRY_SCHEDULED, "reason"): frozenset(RETRY_REASONS),
}
"""Which values a dimension may take, where the template names one (the code emits these and no others)."""
_SEARCH = re.compile(r"SEARCH\(\s*'\{(?P<schema>[^}]*)\}(?P<terms>[^']*)'\s*,\s*'(?P<stat>[^']+)'\s*,\s*\d+\s*\)")
_TERM = re.compile(r'(?P<key>\w+)\s*=\s*"(?P<value>[^"]*)"')


@dataclass(frozen=True)
class Read:
    """One metric as the template reads it: its dimension names, and the values it names (if any)."""

    name: str
    dimensions: frozenset[str]
    values: tuple[tuple[str, str], ...]
    where: str


# -- what the code emits ---------------------------------------------------------------------------------


def _metric_name(node: ast.expr, where: str) -> str:
    assert isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "Metric", \
        f"{where}: emit metrics as Metric.<NAME>, so the dashboard agreement can see them"
    value = getattr(Metric, node.attr, None)
    assert isinstance(value, str), f"{where}: Metric.{node.attr} does not exist"
    return value


def emissions() -> dict[tuple[str, frozenset[str]], list[str]]:
    """(metric name, dimension names) → where in the code it is emitted."""
    found: dict[tuple[str, frozenset[str]], list[str]] = {}
    for path in CODE:
        if path == OBSERVABILITY:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            called = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
            where = f"{path.relative_to(ROOT)}:{node.lineno}"
            assert called not in ("add_metric", "single_metric"), \
                f"{where}: emit through calsync.core.observability (count, count_by, ...), not Powertools directly"
            if called not in PLAIN | BROKEN_DOWN or (isinstance(func, ast.Attribute) and called in PLAIN and not (
                    isinstance(func.value, ast.Name) and func.value.id == "observability")):
                continue  # e.g. str.count(...) or Counter's methods: not a metric
            name = _metric_name(node.args[0], where)
            found.setdefault((name, frozenset({"service"})), []).append(where)
            if called in BROKEN_DOWN:
                dimension = node.args[1]
                assert isinstance(dimension, ast.Constant) and isinstance(dimension.value, str), \
                    f"{where}: the dimension of {called} must be a string literal"
                found.setdefault((name, frozenset({"service", dimension.value})), []).append(where)
    return found


EMITTED = emissions()


# -- what the template reads -----------------------------------------------------------------------------


def dashboard_widgets() -> list[dict[str, Any]]:
    (name,) = resources_of_type(TEMPLATE, "AWS::CloudWatch::Dashboard")
    body = properties(TEMPLATE, name)["DashboardBody"]
    widgets: list[dict[str, Any]] = json.loads(render_sub(TEMPLATE, body["Fn::Sub"]))["widgets"]
    return widgets


def _line_reads(line: list[Any], where: str) -> Iterator[Read]:
    if isinstance(line[0], dict):  # an expression
        expression = str(line[0].get("expression", ""))
        searches = list(_SEARCH.finditer(expression))
        assert searches or "SEARCH" not in expression, f"{where}: a SEARCH this test cannot read: {expression}"
        for search in searches:
            namespace, *dimensions = [part.strip() for part in search["schema"].split(",")]
            terms = {term["key"]: term["value"] for term in _TERM.finditer(search["terms"])}
            if namespace != NAMESPACE:
                continue
            assert "MetricName" in terms, f"{where}: a SEARCH over {NAMESPACE} must name its MetricName"
            values = tuple(sorted((k, v) for k, v in terms.items() if k != "MetricName"))
            yield Read(terms["MetricName"], frozenset(dimensions), values, where)
        return
    namespace, name, *rest = line
    if namespace != NAMESPACE:
        return
    pairs = [item for item in rest if not isinstance(item, dict)]
    assert len(pairs) % 2 == 0, f"{where}: dimensions come in name, value pairs: {line}"
    values = tuple(zip(pairs[::2], pairs[1::2], strict=True))
    yield Read(str(name), frozenset(str(k) for k, _ in values), tuple((str(k), str(v)) for k, v in values), where)


def _alarm_reads(alarm_id: str, props: dict[str, Any]) -> Iterator[Read]:
    stats = [(props.get("Namespace"), props.get("MetricName"), props.get("Dimensions", []))]
    for query in props.get("Metrics", []):
        if "MetricStat" in query:
            metric = query["MetricStat"]["Metric"]
            stats.append((metric.get("Namespace"), metric.get("MetricName"), metric.get("Dimensions", [])))
    for namespace, name, dimensions in stats:
        if namespace == NAMESPACE:
            values = tuple((str(d["Name"]), str(d["Value"])) for d in dimensions)
            yield Read(str(name), frozenset(k for k, _ in values), values, f"alarm {alarm_id}")


def reads() -> list[Read]:
    found: list[Read] = []
    for index, widget in enumerate(dashboard_widgets()):
        title = widget.get("properties", {}).get("title", index)
        for line in widget.get("properties", {}).get("metrics", []):
            found.extend(_line_reads(line, f"widget {title!r}"))
    for alarm_id, alarm in resources_of_type(TEMPLATE, "AWS::CloudWatch::Alarm").items():
        found.extend(_alarm_reads(alarm_id, alarm["Properties"]))
    return found


READS = reads()


# -- the rules -------------------------------------------------------------------------------------------


def test_the_derivation_sees_the_code_and_the_template():
    """Guards the guard: the known emitters and readers are found (the engine's counts, the broken-down lag,
    the SEARCH over retries, the alarm on SyncDead)."""
    assert (Metric.CHANGE_RECEIVED, frozenset({"service"})) in EMITTED
    assert (Metric.SYNC_LAG_SECONDS, frozenset({"service", "provider"})) in EMITTED
    assert any(r.name == Metric.SYNC_RETRY_SCHEDULED and r.dimensions == {"service", "reason"} for r in READS)
    assert any(r.name == Metric.SYNC_DEAD and r.where.startswith("alarm") for r in READS)


@pytest.mark.parametrize("read", READS, ids=lambda r: f"{r.where}:{r.name}:{'+'.join(sorted(r.dimensions))}")
def test_everything_the_template_reads_is_emitted(read: Read):
    assert (read.name, read.dimensions) in EMITTED, (
        f"{read.where} reads {read.name} by {sorted(read.dimensions)}, which no code emits; emitted: "
        f"{sorted(sorted(d) for n, d in EMITTED if n == read.name)}")


def _emitted_id(emitted: tuple[str, frozenset[str]]) -> str:
    return f"{emitted[0]}:{'+'.join(sorted(emitted[1]))}"


EMITTED_PAIRS = sorted(EMITTED.items(), key=lambda item: _emitted_id(item[0]))


@pytest.mark.parametrize("emitted", [pair for pair, _ in EMITTED_PAIRS], ids=_emitted_id)
def test_everything_emitted_is_on_the_dashboard_or_an_alarm(emitted: tuple[str, frozenset[str]]):
    name, dimensions = emitted
    assert any(r.name == name and r.dimensions == dimensions for r in READS), (
        f"{name} by {sorted(dimensions)} is emitted ({', '.join(EMITTED[emitted])}) but no widget or alarm reads "
        "it: add it to the dashboard in template.yaml, or stop emitting it")


@pytest.mark.parametrize("name", sorted(v for k, v in vars(Metric).items() if not k.startswith("_")))
def test_every_metric_name_is_emitted(name: str):
    assert any(n == name for n, _ in EMITTED), f"Metric has {name}, but no code emits it"


@pytest.mark.parametrize("read", [r for r in READS if r.values],
                         ids=lambda r: f"{r.where}:{r.name}:{dict(r.values)}")
def test_dimension_values_named_in_the_template_are_emitted_ones(read: Read):
    for dimension, value in read.values:
        if dimension == "service":
            assert value == SERVICE, f"{read.where}: service={value}, the code emits service={SERVICE}"
        elif (read.name, dimension) in CLOSED_SETS:
            assert value in CLOSED_SETS[(read.name, dimension)], f"{read.where}: {dimension}={value} is never emitted"


def test_the_closed_sets_cover_what_the_dashboard_breaks_down():
    """Every explicit value the dashboard names besides ``service`` is checked against a closed set."""
    named = {(r.name, k) for r in READS for k, _ in r.values if k != "service"}
    assert named <= set(CLOSED_SETS), f"say which values these take: {sorted(named - set(CLOSED_SETS))}"
