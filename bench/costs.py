"""What calsync costs to run in AWS, derived from what one change measurably does on the local deployment.

    make bench   (or: PYTHONPATH=layers/common:. unshare --net bash -c 'ip link set lo up &&
                  .venv/bin/python -m bench.costs')

It runs the whole local deployment (the template's bus → rule → queue → change worker, the sweeper on
demand), sends a steady stream of appointment changes for clinicians on CalDAV (Radicale), and counts, per
change, everything AWS bills: every API call by service (each boto3 and pynamodb call is counted where
botocore makes it), the DynamoDB capacity each call consumed (DynamoDB Local reports it), the handler's
duration (Lambda GB-s at its 512 MB), the bytes written to the log groups (JSON lines and EMF metric blobs,
as the local deployment keeps them) and the metric streams they create. It also measures one idle sweeper
run (every minute, whatever the traffic) and the disclosure audit's share of a change.

Those figures, times the price table below, give the cost per million changes and per clinician-month at
100, 1,000 and 10,000 clinicians (with the fixed monthly costs and the per-integration secret). Local
durations lack AWS's network latency, so a second duration adds an assumed latency per AWS and provider call.
docs/costs.md explains the model and what to do about the secret.
"""

from __future__ import annotations

import collections
import datetime as dt
import json
import statistics
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from devstack.deployment import Deployment, DeploymentPorts
from devstack.stack import apply_env, stack_env

PORTS = DeploymentPorts.pick()
apply_env(stack_env(PORTS.stack))

import botocore.client  # noqa: E402

from devstack import sample_day  # noqa: E402
from devstack.clinicians import connect_caldav  # noqa: E402

# -- the price table (us-east-1, on-demand list prices; check yours) ---------------------------------------
PRICES = {
    "dynamodb_write_unit": 0.625 / 1e6,  # per write request unit (on-demand)
    "dynamodb_read_unit": 0.125 / 1e6,  # per read request unit
    "dynamodb_storage_gb_month": 0.25,
    "lambda_gb_second_arm": 0.0000133334,  # arm64
    "lambda_request": 0.20 / 1e6,
    "sqs_request": 0.40 / 1e6,  # standard queue, per 64 KB request
    "eventbridge_event": 1.00 / 1e6,  # custom events put on the bus
    "secret_month": 0.40,  # Secrets Manager, per secret
    "secret_api_call": 0.05 / 1e4,
    "cloudwatch_metric_month": 0.30,  # custom metric (first 10,000)
    "cloudwatch_alarm_metric_month": 0.10,  # standard resolution, per metric an alarm reads
    "cloudwatch_dashboard_month": 3.00,
    "logs_ingest_gb": 0.50,
    "logs_storage_gb_month": 0.03,
    "kms_key_month": 1.00,
    "kms_request": 0.03 / 1e4,
}
MEMORY_GB = 512 / 1024  # the change worker's and the sweeper's MemorySize
LATENCY_MS = {"dynamodb": 6.0, "sqs": 12.0, "events": 15.0, "secretsmanager": 20.0, "provider": 150.0}
"""Assumed round trips in AWS (the local ones are loopback): the second duration estimate adds these."""
CLINICIAN_CHANGES_PER_MONTH = 20 * 21 * 2  # 20 visits a day, 21 working days, about two changes per visit
SECRETS_PER_CLINICIAN = 1.0  # one OAuth or CalDAV calendar each; a feed (some clinicians add one) needs no secret
SWEEPER_RUNS_PER_MONTH = 60 * 24 * 30
LOG_RETENTION_MONTHS = 1  # LogRetentionDays defaults to 30
DISCLOSURE_RETENTION_MONTHS = 72  # six years
SECRET_READS_PER_INTEGRATION_MONTH = 12 * 8 * 21  # one read per 5 minutes of activity (the cache), 8 h a day
CLINICIANS = (100, 1_000, 10_000)
STREAM_CHANGES = 200


@dataclass
class Tally:
    calls: collections.Counter[str] = field(default_factory=collections.Counter)  # "service:Operation"
    read_units: float = 0.0
    write_units: float = 0.0
    capacity_by_table: dict[str, float] = field(default_factory=lambda: collections.defaultdict(float))

    def service(self, name: str) -> int:
        return sum(n for key, n in self.calls.items() if key.startswith(f"{name}:"))


TALLY = Tally()
_READS = {"GetItem", "BatchGetItem", "Query", "Scan"}


@contextmanager
def counting() -> Iterator[Tally]:
    client_class: Any = botocore.client.BaseClient  # _make_api_call: every boto3 and pynamodb call goes through it
    original = client_class._make_api_call

    def counted(self: Any, operation: str, params: dict[str, Any]) -> Any:
        service = self.meta.service_model.service_name
        if service == "sqs" and self.meta.endpoint_url and operation in ("CreateQueue", "GetQueueAttributes"):
            return original(self, operation, params)
        TALLY.calls[f"{service}:{operation}"] += 1
        response = original(self, operation, params)
        consumed = response.get("ConsumedCapacity") if service == "dynamodb" else None
        for entry in consumed if isinstance(consumed, list) else [consumed] if consumed else []:
            units = float(entry.get("CapacityUnits", 0))
            TALLY.capacity_by_table[str(entry.get("TableName", "?"))] += units
            if operation in _READS:
                TALLY.read_units += units
            else:
                TALLY.write_units += units
        return response

    client_class._make_api_call = counted
    try:
        yield TALLY
    finally:
        client_class._make_api_call = original


@dataclass
class Measured:
    changes: int
    calls: dict[str, float]
    read_units: float
    write_units: float
    audit_write_units: float
    capacity_by_table: dict[str, float]
    duration_ms: float
    log_bytes: float
    metric_streams: int  # seen in this run
    disclosure_bytes: float
    sweeper_calls: dict[str, float]
    sweeper_read_units: float
    sweeper_duration_ms: float


def _reports(deployment: Deployment, group: str, since_ms: int) -> list[float]:
    found = []
    for event in deployment.logs.events(group, since_ms):
        try:
            blob = json.loads(event["message"])
        except ValueError:
            continue
        if isinstance(blob, dict) and blob.get("type") == "platform.report":
            found.append(float(blob["record"]["metrics"]["durationMs"]))
    return found


def _changes(tenant: str, practitioners: list[str], n: int) -> list[dict[str, Any]]:
    """``n`` changes: each appointment booked, then rescheduled (the common pair)."""
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    entries = []
    for index in range(n):
        appointment, version = f"apt-{index // 2}", 1 + index % 2
        start = (now + dt.timedelta(days=1 + index // 40, hours=index % 8 + version)).astimezone(sample_day.ZONE)
        detail = {"schema_version": 1, "tenant_id": tenant, "appointment_id": appointment,
                  "updated_at": (now + dt.timedelta(seconds=index)).isoformat(), "version": version,
                  "status": "scheduled", "start": start.isoformat(),
                  "end": (start + dt.timedelta(minutes=50)).isoformat(), "timezone": str(sample_day.ZONE),
                  "practitioner_id": practitioners[(index // 2) % len(practitioners)],
                  "practice": sample_day.PRACTICE, "visit_type": "Follow-up",
                  "client": {"id": f"cl-{index // 2}", "internal_id": f"A-{index // 2}"}}
        entries.append({"Source": sample_day.SOURCE, "DetailType": "Appointment Changed", "Detail": json.dumps(detail)})
    return entries


def put(events: Any, bus: str, entries: list[dict[str, Any]]) -> None:
    for offset in range(0, len(entries), 10):
        events.put_events(Entries=[{**entry, "EventBusName": bus} for entry in entries[offset:offset + 10]])


def measure(deployment: Deployment) -> Measured:
    stack = deployment.stack
    tenant, practitioners = "bench-costs", ["dr-okafor", "dr-lindqvist"]
    for practitioner in practitioners:
        connect_caldav(stack, tenant_id=tenant, practitioner_id=practitioner,
                       privacy=sample_day.PRIVACY[sample_day.OKAFOR], username=f"bench-{practitioner}")
    events = stack.client("events")
    bus = stack.resources.event_bus_name
    warm = _changes(tenant + "-warm", practitioners, 10)
    for practitioner in practitioners:  # warm the worker: imports, connections, the secret cache
        connect_caldav(stack, tenant_id=tenant + "-warm", practitioner_id=practitioner,
                       privacy=sample_day.PRIVACY[sample_day.OKAFOR], username=f"warm-{practitioner}")
    put(events, bus, warm)
    deployment.drain()

    stream = _changes(tenant, practitioners, STREAM_CHANGES)
    started_ms = int(time.time() * 1000)
    with counting() as tally:
        put(events, bus, stream)
        deployment.drain()
        calls = dict(tally.calls)
        reads, writes = tally.read_units, tally.write_units
        by_table = {table: units / len(stream) for table, units in tally.capacity_by_table.items()}
        audit_units = sum(units for table, units in tally.capacity_by_table.items() if table.endswith("disclosures"))
    group = deployment.functions["OnAppointmentChangeFunction"].spec.log_group
    durations = _reports(deployment, group, started_ms)
    log_events = list(deployment.logs.events(group, started_ms))
    log_bytes = sum(len(event["message"]) + 26 for event in log_events)  # + CloudWatch's per-event overhead
    streams = set()
    for event in deployment.logs.events(None, 0):
        try:
            blob = json.loads(event["message"])
        except ValueError:
            continue
        for directive in (blob.get("_aws") or {}).get("CloudWatchMetrics", []) if isinstance(blob, dict) else []:
            for dimensions in directive["Dimensions"]:
                for metric in directive["Metrics"]:
                    streams.add((metric["Name"], tuple((d, str(blob.get(d))) for d in dimensions)))

    from calsync.store.tables import DisclosureItem

    records = [item for item in DisclosureItem.scan() if item.tenant_id == tenant]
    disclosure_bytes = statistics.mean(len(json.dumps(item.attribute_values, default=str)) + 40 for item in records)

    TALLY.__init__()  # type: ignore[misc]
    sweeper_started = int(time.time() * 1000)
    with counting() as tally:
        for _ in range(5):
            deployment.run_schedule_now()
        sweeper_calls = {key: n / 5 for key, n in tally.calls.items()}
        sweeper_reads = tally.read_units / 5
    sweeper_group = deployment.functions["RetrySweeperFunction"].spec.log_group
    return Measured(
        changes=len(stream), calls={key: n / len(stream) for key, n in calls.items()},
        read_units=reads / len(stream), write_units=writes / len(stream), audit_write_units=audit_units / len(stream),
        capacity_by_table=by_table,
        duration_ms=sum(durations) / len(stream), log_bytes=log_bytes / len(stream), metric_streams=len(streams),
        disclosure_bytes=disclosure_bytes * len(records) / len(stream), sweeper_calls=sweeper_calls,
        sweeper_read_units=sweeper_reads,
        sweeper_duration_ms=statistics.median(_reports(deployment, sweeper_group, sweeper_started) or [0.0]))


def _service(calls: dict[str, float], name: str) -> float:
    return sum(n for key, n in calls.items() if key.startswith(f"{name}:"))


def per_change(m: Measured, duration_ms: float) -> dict[str, float]:
    """The variable cost of one change, by what AWS bills (USD)."""
    sqs = _service(m.calls, "sqs") + 1  # + EventBridge's SendMessage into the change queue
    return {
        "DynamoDB capacity": m.read_units * PRICES["dynamodb_read_unit"]
        + m.write_units * PRICES["dynamodb_write_unit"],
        "  of which the disclosure audit": m.audit_write_units * PRICES["dynamodb_write_unit"],
        "audit record storage, over its 6 years": m.disclosure_bytes / 1e9 * PRICES["dynamodb_storage_gb_month"]
        * DISCLOSURE_RETENTION_MONTHS,
        "EventBridge": PRICES["eventbridge_event"] * (1 + _service(m.calls, "events")),
        "SQS": sqs * PRICES["sqs_request"],
        "Lambda GB-s": duration_ms / 1000 * MEMORY_GB * PRICES["lambda_gb_second_arm"],
        "Lambda requests": PRICES["lambda_request"] / 10,  # batches of up to 10
        "Secrets Manager calls": _service(m.calls, "secretsmanager") * PRICES["secret_api_call"],
        "CloudWatch Logs": m.log_bytes / 1e9 * (PRICES["logs_ingest_gb"]
                                                + PRICES["logs_storage_gb_month"] * LOG_RETENTION_MONTHS),
    }


def metric_streams() -> int:
    """Every metric stream a deployment ends up with: each name in total, and each breakdown by its closed set
    (lag by provider, retries by reason, integrations and their status changes by status)."""
    from calsync.core.observability import Metric
    from calsync.domain.model import IntegrationStatus, Provider
    from calsync.domain.retry_policy import RETRY_REASONS

    names = [value for key, value in vars(Metric).items() if not key.startswith("_")]
    return len(names) + len(Provider) + len(RETRY_REASONS) + 2 * len(IntegrationStatus)


def monthly_fixed(m: Measured, alarm_metrics: int) -> dict[str, float]:
    sweeper_gb_s = SWEEPER_RUNS_PER_MONTH * m.sweeper_duration_ms / 1000 * MEMORY_GB
    return {
        "custom metrics": metric_streams() * PRICES["cloudwatch_metric_month"],
        "alarms": alarm_metrics * PRICES["cloudwatch_alarm_metric_month"],
        "dashboard": PRICES["cloudwatch_dashboard_month"],
        "KMS key": PRICES["kms_key_month"],
        "sweeper (every minute, idle)": sweeper_gb_s * PRICES["lambda_gb_second_arm"]
        + SWEEPER_RUNS_PER_MONTH * (PRICES["lambda_request"] + m.sweeper_read_units * PRICES["dynamodb_read_unit"]),
    }


def _alarm_metrics() -> int:
    from devstack.cfn_template import load_template, resources_of_type

    alarms = resources_of_type(load_template(), "AWS::CloudWatch::Alarm").values()
    return sum(max(1, sum(1 for q in a["Properties"].get("Metrics", []) if "MetricStat" in q)) for a in alarms)


def report(m: Measured) -> None:
    print(f"measured on the local deployment: {m.changes} changes (book + reschedule pairs) through bus → rule → "
          "queue → change worker → Radicale, two clinicians")
    print("\nper change (warm worker):")
    for key, n in sorted(m.calls.items()):
        print(f"  {key:38s} {n:6.2f} calls")
    print(f"  {'DynamoDB capacity':38s} {m.read_units:6.2f} read units, {m.write_units:.2f} write units "
          f"(disclosure audit: {m.audit_write_units:.2f} write units)")
    aws_calls = sum(m.calls.values())
    adjusted = m.duration_ms + sum(LATENCY_MS.get(k.split(":")[0], 0.0) * n for k, n in m.calls.items()) \
        + LATENCY_MS["provider"]
    print(f"  {'change worker duration':38s} {m.duration_ms:6.1f} ms measured; {adjusted:.1f} ms with AWS and "
          f"provider latency added ({aws_calls:.1f} AWS calls)")
    print(f"  {'log bytes (lines + EMF)':38s} {m.log_bytes:6.0f} bytes; metric streams: {m.metric_streams} seen "
          f"here, {metric_streams()} in a deployment")
    for table, units in sorted(m.capacity_by_table.items()):
        print(f"  {'  capacity units, ' + table.removeprefix('calsync-local-'):38s} {units:6.2f}")
    print(f"  {'audit record':38s} {m.disclosure_bytes:6.0f} bytes stored per change")
    print(f"idle sweeper run: {sum(m.sweeper_calls.values()):.1f} AWS calls, {m.sweeper_read_units:.1f} read units, "
          f"{m.sweeper_duration_ms:.1f} ms")

    print("\nprice table (USD, us-east-1 on-demand list prices assumed):")
    for key, price in PRICES.items():
        print(f"  {key:34s} {price:.10g}")

    for label, duration in (("measured duration", m.duration_ms), ("with AWS latency", adjusted)):
        costs = per_change(m, duration)
        per_million = {key: value * 1e6 for key, value in costs.items()}
        total = sum(v for k, v in per_million.items() if not k.startswith("  "))
        print(f"\ncost per 1M changes ({label}): ${total:,.2f}")
        for key, value in per_million.items():
            print(f"  {key:38s} ${value:10,.2f}")

    fixed = monthly_fixed(m, _alarm_metrics())
    variable = sum(v for k, v in per_change(m, adjusted).items() if not k.startswith("  "))
    secret = SECRETS_PER_CLINICIAN * (PRICES["secret_month"]
                                           + SECRET_READS_PER_INTEGRATION_MONTH * PRICES["secret_api_call"])
    print(f"\nfixed per month: ${sum(fixed.values()):.2f} (" + ", ".join(f"{k} ${v:.2f}" for k, v in fixed.items())
          + ")")
    print(f"per clinician-month ({CLINICIAN_CHANGES_PER_MONTH} changes, {SECRETS_PER_CLINICIAN:g} secret, "
          "with AWS latency):")
    print(f"  {'clinicians':>10s} {'changes':>8s} {'secrets':>8s} {'fixed':>8s} {'total':>8s} {'secret share':>13s}")
    for clinicians in CLINICIANS:
        changes = variable * CLINICIAN_CHANGES_PER_MONTH
        shared = sum(fixed.values()) / clinicians
        total = changes + secret + shared
        print(f"  {clinicians:10,d} ${changes:7.3f} ${secret:7.3f} ${shared:7.3f} ${total:7.3f} {secret / total:12.0%}")
    largest = (variable * CLINICIAN_CHANGES_PER_MONTH + secret) * CLINICIANS[-1] + sum(fixed.values())
    print(f"\na month of {CLINICIANS[-1]:,} clinicians: ${largest:,.0f}")


def main() -> None:
    import io
    import sys

    terminal = sys.stdout
    sys.stdout = io.StringIO()  # the handlers' own lines (they still reach their local log groups)
    try:
        from calsync.core.observability import logger

        logger.registered_handler.setStream(sys.stdout)  # type: ignore[attr-defined]
        with Deployment(PORTS, simulators=False).start(workers=False) as deployment:
            measured = measure(deployment)
    finally:
        sys.stdout = terminal
    report(measured)


if __name__ == "__main__":
    main()
