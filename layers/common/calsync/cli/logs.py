"""``calsync logs``: the handlers' log lines, filtered by tenant, integration or appointment (and function).

In AWS the lines come from CloudWatch Logs (``FilterLogEvents`` on the functions' log groups, with a JSON
filter pattern, so only matching lines leave AWS); locally from the local deployment's log groups (the
folder in ``CALSYNC_LOCAL_LOGS``, one JSON event per line, as ``FilterLogEvents`` returns them). The same
filter is applied to both. ``--follow`` keeps polling for new lines until Ctrl-C. Metric blobs (EMF) and
platform reports are not shown.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Annotated, Any, Protocol

import typer

from calsync.cli.target import Target
from calsync.cli.ui import connect, console, guarded, interruptible

FOLLOW_SECONDS = 2.0
SHOWN_FIRST = ("tenant_id", "integration_id", "appointment_id", "provider", "operation", "result", "duration_ms",
               "outcome", "reason", "status")
HIDDEN = {"level", "message", "timestamp", "location", "service", "cold_start", "function_name", "function_arn",
          "function_memory_size", "function_request_id", "xray_trace_id", "sampling_rate", "practitioner_id"}
_SPAN = re.compile(r"^(\d+)([smhd])$")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400}

Filters = Mapping[str, str]


def since(text: str) -> dt.timedelta:
    """``30s``, ``15m``, ``2h``, ``1d``."""
    found = _SPAN.match(text.strip())
    if found is None:
        raise ValueError(f"--since {text!r}: give a number and s, m, h or d (e.g. 15m)")
    return dt.timedelta(seconds=int(found.group(1)) * _UNIT[found.group(2)])


def filter_pattern(filters: Filters) -> str:
    """CloudWatch Logs' JSON filter pattern for ``filters`` (all must hold)."""
    terms = [f'($.{name} = "{value.replace(chr(34), "")}")' for name, value in sorted(filters.items())]
    return "{ " + " && ".join(terms) + " }" if terms else ""


def line_of(event: Mapping[str, Any], filters: Filters) -> dict[str, Any] | None:
    """The log line of an event if it is one of calsync's (not a metric blob or a report) and matches."""
    try:
        line = json.loads(event["message"])
    except (ValueError, TypeError):
        return None
    if not isinstance(line, dict) or "_aws" in line or "message" not in line:
        return None
    if any(str(line.get(name)) != value for name, value in filters.items()):
        return None
    return line


class Source(Protocol):
    def events(self, filters: Filters, start_ms: int) -> list[dict[str, Any]]:
        """Events at or after ``start_ms`` that may match (the caller filters again), oldest first."""
        ...


class CloudWatchLogs:
    def __init__(self, client: Any, groups: list[str]) -> None:
        self._client, self._groups = client, groups

    def events(self, filters: Filters, start_ms: int) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        for group in self._groups:
            arguments: dict[str, Any] = {"logGroupName": group, "startTime": start_ms, "interleaved": True}
            if filters:
                arguments["filterPattern"] = filter_pattern(filters)
            for page in self._client.get_paginator("filter_log_events").paginate(**arguments):
                found += [{**event, "logGroupName": group} for event in page.get("events", [])]
        return sorted(found, key=lambda event: event["timestamp"])


class LocalLogs:
    def __init__(self, folder: Path) -> None:
        self._folder = folder

    def events(self, filters: Filters, start_ms: int) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        for path in sorted(self._folder.glob("*.jsonl")):
            with path.open(encoding="utf-8") as lines:
                found += [event for line in lines if line.strip()
                          if (event := json.loads(line))["timestamp"] >= start_ms]
        return sorted(found, key=lambda event: event["timestamp"])


def source(target: Target) -> Source:
    if target.local_logs is not None:
        return LocalLogs(target.local_logs)
    groups = target.log_groups
    if not groups:
        raise ValueError(f"{target.description} names no log groups (CALSYNC_LOG_GROUPS)")
    return CloudWatchLogs(target.client("logs"), groups)


def matching(events: list[dict[str, Any]], filters: Filters,
             function: str | None) -> Iterator[tuple[str, dict[str, Any]]]:
    for event in events:
        group = str(event.get("logGroupName", ""))
        short = group.rstrip("/").rsplit("/", 1)[-1]
        if function is not None and function not in (short, short.replace("-", "_")):
            continue
        line = line_of(event, filters)
        if line is not None:
            yield short, {"at": dt.datetime.fromtimestamp(event["timestamp"] / 1000, dt.UTC), **line}


def show(function: str, line: dict[str, Any]) -> None:
    level = str(line.get("level", ""))
    style = {"ERROR": "bold red", "WARNING": "yellow", "DEBUG": "dim"}.get(level, "")
    keys = [k for k in SHOWN_FIRST if k in line] + sorted(k for k in line if k not in HIDDEN and k not in SHOWN_FIRST
                                                           and k != "at")
    extra = "  ".join(f"{k}={line[k]}" for k in keys)
    level_text = f"[{style}]{level:<7}[/{style}]" if style else f"{level:<7}"
    console.print(f"{line['at']:%H:%M:%S}  {function:<21} {level_text} {line.get('message', '')}  [dim]{extra}[/dim]")


@guarded
def logs(ctx: typer.Context,
         tenant: Annotated[str | None, typer.Option(help="Only lines of this tenant.")] = None,
         integration: Annotated[str | None, typer.Option(help="Only lines of this integration.")] = None,
         appointment: Annotated[str | None, typer.Option(help="Only lines of this appointment (its path).")] = None,
         function: Annotated[str | None, typer.Option(help="Only this function (e.g. on-appointment-change).")] = None,
         since_text: Annotated[str, typer.Option("--since", help="How far back: 30s, 15m, 2h, 1d.")] = "1h",
         follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep showing new lines until Ctrl-C.")] = False,
         as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False) -> None:
    """The handlers' log lines (identifiers and codes only: calsync logs no patient detail)."""
    filters = {name: value for name, value in (("tenant_id", tenant), ("integration_id", integration),
                                               ("appointment_id", appointment)) if value}
    logs_source = source(connect(ctx))
    start_ms = int((dt.datetime.now(dt.UTC) - since(since_text)).timestamp() * 1000)
    seen: set[tuple[int, str]] = set()
    with interruptible() as stop:
        while True:
            events = logs_source.events(filters, start_ms)
            for event in events:
                start_ms = max(start_ms, int(event["timestamp"]))
            fresh = [e for e in events if (int(e["timestamp"]), str(e.get("message"))) not in seen]
            seen.update((int(e["timestamp"]), str(e.get("message"))) for e in fresh)
            for short, line in matching(fresh, filters, function):
                if as_json:
                    typer.echo(json.dumps({"function": short, **line}, default=str))
                else:
                    show(short, line)
            if not follow or stop():
                return
            time.sleep(FOLLOW_SECONDS)
