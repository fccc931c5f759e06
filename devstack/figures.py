"""The dashboard's figures, locally: ``make serve``'s console serves them at ``/figures`` (a page that refreshes
itself) and ``/figures.json``, so the system can be watched working without an AWS account.

Nothing is listed twice: the panels are the widgets of the CloudWatch dashboard in template.yaml, in its
order, with its titles, lines, labels and statistics. Each line is computed from what the local functions
wrote to their log groups (``devstack.function_logs``), as CloudWatch would compute it in AWS:

- ``CalSync`` metrics from the Embedded Metric Format blobs Powertools writes (``SEARCH`` lines become one
  line per value of the dimension they break down);
- ``AWS/Lambda`` invocations, errors and duration from each invocation's platform report (nothing throttles
  locally);
- ``AWS/SQS`` depth from the queues themselves (moto); ``AWS/ApiGateway`` counts from the local HTTP API;
- what has no local counterpart (the age of a queue's oldest message, DynamoDB throttling) says so.

Each line shows its statistic over the widget's period (the last 5 minutes, usually) and since the start.
"""

from __future__ import annotations

import html
import json
import math
import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from devstack.blueprint import Blueprint
from devstack.cfn_template import render_sub
from devstack.function_logs import REPORT_TYPE
from devstack.stack import REGION

if TYPE_CHECKING:
    from devstack.deployment import Deployment

NOT_LOCAL = "not measured locally"
_SEARCH = re.compile(r"SEARCH\(\s*'\{(?P<schema>[^}]*)\}(?P<terms>[^']*)'\s*,\s*'(?P<stat>[^']+)'")
_TERM = re.compile(r'(?P<key>\w+)\s*=\s*"(?P<value>[^"]*)"')


@dataclass(frozen=True)
class Sample:
    namespace: str
    name: str
    dimensions: tuple[tuple[str, str], ...]
    timestamp_ms: int
    values: tuple[float, ...]


@dataclass
class Figure:
    label: str
    stat: str
    recent: float | None
    total: float | None
    note: str = ""


@dataclass
class Panel:
    title: str
    period: int
    figures: list[Figure] = field(default_factory=list)


# -- what the functions wrote ----------------------------------------------------------------------------


def samples(events: Iterable[dict[str, Any]], function_of_group: Mapping[str, str]) -> list[Sample]:
    """Metric samples from log events: EMF blobs, and platform reports as ``AWS/Lambda`` metrics."""
    found: list[Sample] = []
    for event in events:
        try:
            blob = json.loads(event["message"])
        except (ValueError, TypeError):
            continue
        if not isinstance(blob, dict):
            continue
        if blob.get("type") == REPORT_TYPE:
            function = (("FunctionName", function_of_group.get(event["logGroupName"], "?")),)
            record = blob.get("record", {})
            at = int(event["timestamp"])
            found.append(Sample("AWS/Lambda", "Invocations", function, at, (1.0,)))
            failed = 1.0 if record.get("status") != "success" else 0.0
            found.append(Sample("AWS/Lambda", "Errors", function, at, (failed,)))
            found.append(Sample("AWS/Lambda", "Throttles", function, at, (0.0,)))
            found.append(Sample("AWS/Lambda", "Duration", function, at,
                                (float(record.get("metrics", {}).get("durationMs", 0.0)),)))
            continue
        for directive in (blob.get("_aws") or {}).get("CloudWatchMetrics", []):
            for dimension_set in directive.get("Dimensions", []):
                dimensions = tuple(sorted((name, str(blob.get(name))) for name in dimension_set))
                for metric in directive.get("Metrics", []):
                    raw = blob.get(metric["Name"])
                    values = tuple(float(v) for v in (raw if isinstance(raw, list) else [raw]) if v is not None)
                    found.append(Sample(directive["Namespace"], metric["Name"], dimensions,
                                        int(blob["_aws"].get("Timestamp", event["timestamp"])), values))
    return found


def statistic(values: list[float], stat: str) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    match stat:
        case "Sum":
            return sum(ordered)
        case "Maximum":
            return ordered[-1]
        case "Minimum":
            return ordered[0]
        case "Average":
            return sum(ordered) / len(ordered)
        case "SampleCount":
            return float(len(ordered))
    if stat.startswith("p"):
        rank = math.ceil(float(stat[1:]) / 100 * len(ordered)) - 1
        return ordered[max(0, min(rank, len(ordered) - 1))]
    raise ValueError(f"statistic {stat} is not computed locally")


# -- the dashboard, as the local deployment names things ---------------------------------------------------


def widgets(plan: Blueprint) -> list[dict[str, Any]]:
    """The dashboard's widgets with every ``${...}`` filled with the local resource's name."""
    template = plan.template
    (body,) = [resource["Properties"]["DashboardBody"] for resource in template["Resources"].values()
               if resource["Type"] == "AWS::CloudWatch::Dashboard"]
    names = {"AWS::Region": REGION, "HttpApi": "local"}
    names |= {logical_id: spec.name for logical_id, spec in plan.functions.items()}
    names |= {f"{logical_id}.QueueName": spec.name for logical_id, spec in plan.queues.items()}
    names |= dict(plan.tables)
    names |= {name: str(parameter.get("Default", "")) for name, parameter in template.get("Parameters", {}).items()}
    text = render_sub(template, body["Fn::Sub"], names)
    parsed: list[dict[str, Any]] = json.loads(text)["widgets"]
    return parsed


def _lines(widget: dict[str, Any]) -> Iterable[tuple[str, str, dict[str, str], str, str | None]]:
    """(namespace, metric, dimensions, stat, label) of each line; a SEARCH's free dimensions have the value ``*``."""
    props = widget["properties"]
    for line in props.get("metrics", []):
        if isinstance(line[0], dict):
            search = _SEARCH.search(str(line[0].get("expression", "")))
            if search is None:
                continue
            namespace, *dimensions = [part.strip() for part in search["schema"].split(",")]
            terms = {term["key"]: term["value"] for term in _TERM.finditer(search["terms"])}
            fixed = {k: v for k, v in terms.items() if k != "MetricName"}
            free = {name: "*" for name in dimensions if name not in fixed}
            yield namespace, terms["MetricName"], {**fixed, **free}, search["stat"], line[0].get("label")
            continue
        namespace, name, *rest = line
        options = next((item for item in rest if isinstance(item, dict)), {})
        pairs = [item for item in rest if not isinstance(item, dict)]
        yield (namespace, name, dict(zip(pairs[::2], pairs[1::2], strict=True)),
               options.get("stat", props.get("stat", "Sum")), options.get("label"))


# -- the figures -----------------------------------------------------------------------------------------


Gauge = Callable[[str, str, dict[str, str]], float | None]
"""(namespace, metric, dimensions) → its value now, for metrics that are levels read from the thing itself."""


def panels(plan: Blueprint, found: list[Sample], gauges: Gauge, api_requests: list[tuple[str, int]],
           now_ms: int | None = None) -> list[Panel]:
    now_ms = now_ms if now_ms is not None else int(time.time() * 1000)
    result: list[Panel] = []
    for widget in sorted(widgets(plan), key=lambda w: (w["y"], w["x"])):
        props = widget["properties"]
        panel = Panel(props.get("title", ""), int(props.get("period", 300)))
        for namespace, name, dimensions, stat, label in _lines(widget):
            panel.figures += _figures(namespace, name, dimensions, stat, label, panel.period, found, gauges,
                                      api_requests, now_ms)
        result.append(panel)
    return result


def _figures(namespace: str, name: str, dimensions: dict[str, str], stat: str, label: str | None, period: int,
             found: list[Sample], gauges: Gauge, api_requests: list[tuple[str, int]], now_ms: int) -> list[Figure]:
    text = label or " ".join([name, *(f"{k}={v}" for k, v in dimensions.items() if k != "service")])
    if namespace == "AWS/SQS":
        value = gauges(namespace, name, dimensions)
        return [Figure(text, stat, value, value, "" if value is not None else NOT_LOCAL)]
    if namespace == "AWS/ApiGateway":
        route = dimensions.get("Route")
        statuses = [status for key, status in api_requests if route is None or key == route]
        ranges = {"Count": range(100, 600), "4xx": range(400, 500), "5xx": range(500, 600)}
        total = float(sum(1 for s in statuses if s in ranges[name])) if name in ranges else None
        return [Figure(text, stat, None, total, "since start only")]
    if namespace == "AWS/DynamoDB":
        return [Figure(text, stat, 0.0, 0.0, "DynamoDB Local does not throttle")]
    free = [k for k, v in dimensions.items() if v == "*"]
    matching = [s for s in found if s.namespace == namespace and s.name == name
                and {k for k, _ in s.dimensions} == set(dimensions)
                and all(dict(s.dimensions)[k] == v for k, v in dimensions.items() if v != "*")]
    if not free:
        return [_figure(text, stat, matching, period, now_ms)]
    groups: dict[tuple[str, ...], list[Sample]] = {}
    for sample in matching:
        groups.setdefault(tuple(dict(sample.dimensions)[k] for k in free), []).append(sample)
    if not groups:
        return [Figure(f"{text} (by {', '.join(free)})", stat, None, None, "none yet")]
    shown = [n for n, name in enumerate(free) if name != "service"]  # one service: its value says nothing
    return [_figure(" ".join([text, *(key[n] for n in shown)]).strip(), stat, group, period, now_ms)
            for key, group in sorted(groups.items())]


def _figure(label: str, stat: str, matching: list[Sample], period: int, now_ms: int) -> Figure:
    recent = [v for s in matching if s.timestamp_ms >= now_ms - period * 1000 for v in s.values]
    every = [v for s in matching for v in s.values]
    if stat == "Sum":  # CloudWatch sums nothing as no data; locally 0 reads better
        return Figure(label, stat, statistic(recent, stat) or 0.0, statistic(every, stat) or 0.0)
    return Figure(label, stat, statistic(recent, stat), statistic(every, stat))


# -- the deployment's page -------------------------------------------------------------------------------


def collect(deployment: Deployment) -> list[Panel]:
    plan = deployment.blueprint
    function_of_group = {spec.log_group: spec.name for spec in plan.functions.values()}
    queue_urls = {plan.queues[logical_id].name: url
                  for logical_id, url in deployment.stack.resources.queue_urls.items()}
    sqs = deployment.stack.client("sqs")

    def gauge(namespace: str, name: str, dimensions: dict[str, str]) -> float | None:
        url = queue_urls.get(dimensions.get("QueueName", ""))
        if name != "ApproximateNumberOfMessagesVisible" or url is None:
            return None
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
        return float(attributes["Attributes"]["ApproximateNumberOfMessages"])

    return panels(plan, samples(deployment.logs.events(), function_of_group), gauge, list(deployment.api.requests))


def as_json(found: list[Panel]) -> bytes:
    return json.dumps([asdict(panel) for panel in found], indent=1).encode()


def _number(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value:.0f}" if value == int(value) else f"{value:.3g}"


def as_html(found: list[Panel], refresh_seconds: int = 10) -> bytes:
    cards = []
    for panel in found:
        rows = "".join(
            f"<tr><td>{html.escape(f.label)}</td><td class=n>{_number(f.recent)}</td><td class=n>{_number(f.total)}"
            f"</td><td class=s>{html.escape(f.stat)}</td><td class=s>{html.escape(f.note)}</td></tr>"
            for f in panel.figures)
        cards.append(f"<section><h2>{html.escape(panel.title)}</h2><table><tr><th></th><th>last "
                     f"{panel.period // 60 or panel.period} {'min' if panel.period >= 60 else 's'}</th>"
                     f"<th>since start</th><th>stat</th><th></th></tr>{rows}</table></section>")
    return (f"<!doctype html><html lang=en><head><meta charset=utf-8><meta http-equiv=refresh "
            f"content={refresh_seconds}><title>calsync - local dashboard figures</title><style>"
            "body{font:14px system-ui,sans-serif;margin:1.5em;background:#fafafa}"
            "main{display:grid;grid-template-columns:repeat(auto-fill,minmax(26em,1fr));gap:1em}"
            "section{background:#fff;border:1px solid #ddd;border-radius:6px;padding:.5em 1em}"
            "h2{font-size:15px}td.n{text-align:right;font-variant-numeric:tabular-nums;padding:0 .6em}"
            "td.s{color:#777;font-size:12px}th{font-weight:normal;color:#777;font-size:12px}</style></head><body>"
            "<h1>calsync: the dashboard's figures, from the local deployment</h1>"
            "<p>The widgets of the CloudWatch dashboard in template.yaml, computed from what the local functions "
            f"logged. Refreshes every {refresh_seconds} s; <a href=figures.json>as JSON</a>.</p>"
            f"<main>{''.join(cards)}</main></body></html>").encode()
