"""The census the dashboard's "integrations by status" reads, and ``make serve``'s figures page: the
dashboard's widgets computed from what the local functions logged."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from calsync.services import sweeper
from calsync.services.inspection import all_integrations
from calsync.services.sweeper.census import CENSUS_TASK
from calsync.store import sweeps
from devstack import sample_day
from devstack.deployment import Deployment
from devstack.stack import LocalStack, StackResources
from tests.support.pipeline import deliver
from tests.support.reliability import Clock, connect


def emitted(text: str, name: str) -> dict[str, float]:
    """The values of one metric in the EMF blobs of ``text``, by the status dimension ('' for the total)."""
    found: dict[str, float] = {}
    for line in text.splitlines():
        try:
            blob = json.loads(line)
        except ValueError:
            continue
        if isinstance(blob, dict) and name in blob and "_aws" in blob:
            found[str(blob.get("status", ""))] = float(blob[name][0] if isinstance(blob[name], list) else blob[name])
    return found


def test_the_census_counts_every_integration_by_status_across_runs(stack: LocalStack, tenant_id: str, clock: Clock,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    clinicians = [connect(stack, tenant_id, f"dr-{n}") for n in range(3)]
    from calsync.services import lifecycle

    lifecycle.pause(clinicians[0].integration.integration_id)
    capsys.readouterr()
    sweeper.run(clock.now, budget=sweeper.Budget(reads=3))  # too small a budget for a whole pass
    assert emitted(capsys.readouterr().out, "Integrations") == {}
    task = sweeps.get(CENSUS_TASK, clock.now)
    assert task is not None and task.cursor and "counts" in task.cursor  # the counts travel in the cursor
    for _ in range(50):
        sweeper.run(clock.advance(seconds=1))
        counts = emitted(capsys.readouterr().out, "Integrations")
        if counts:
            break
    everything = list(all_integrations())
    assert counts[""] == len(everything)
    assert {status: counts[status] for status in ("pending", "active", "paused", "error", "disconnected")} == {
        status: float(sum(1 for i in everything if i.status.value == status))
        for status in ("pending", "active", "paused", "error", "disconnected")}
    assert counts["paused"] >= 1


def _panel(found: list[dict[str, Any]], title: str) -> dict[str, dict[str, Any]]:
    (panel,) = [p for p in found if p["title"] == title]
    return {figure["label"]: figure for figure in panel["figures"]}


def test_the_figures_page_shows_the_dashboards_widgets_from_the_local_logs(
        deployment: Deployment, stack: LocalStack, stack_resources: StackResources, tenant_id: str) -> None:
    connect(stack, tenant_id, sample_day.OKAFOR)
    before = httpx.get(f"{deployment.console.figures_url}.json").json()
    received_before = _panel(before, "Changes received, written, skipped")["received"]["total"] or 0
    deliver(stack, stack_resources, sample_day.changes(tenant_id))  # a day of changes, one of them poison
    deployment.run_schedule_now()

    found = httpx.get(f"{deployment.console.figures_url}.json").json()
    template_titles = [w["properties"]["title"] for w in json.loads(
        deployment.blueprint.sub(next(r["Properties"]["DashboardBody"]["Fn::Sub"]
                                      for r in deployment.blueprint.template["Resources"].values()
                                      if r["Type"] == "AWS::CloudWatch::Dashboard")))["widgets"]]
    assert sorted(p["title"] for p in found) == sorted(template_titles)  # every widget, nothing else

    changes = _panel(found, "Changes received, written, skipped")
    assert changes["received"]["total"] >= received_before + 10 and changes["received"]["recent"] >= 10
    assert changes["rejected (dead-lettered)"]["total"] >= 1
    lag = _panel(found, "Sync lag (s), EHR change to calendar written")
    assert lag["p99"]["total"] is not None and lag["p99 caldav"]["total"] is not None
    functions = _panel(found, "Function errors")
    assert functions["on_appointment_change"]["total"] == 0
    duration = _panel(found, "Function duration p99 (ms)")
    assert duration["on_appointment_change"]["total"] > 0 and duration["retry_sweeper"]["total"] > 0
    sweeps_panel = _panel(found, "Retry sweeper runs")
    assert sweeps_panel["runs"]["total"] >= 1
    queues = _panel(found, "Dead-letter queues: depth, age of the oldest (s)")
    assert queues["changes DLQ"]["total"] is not None
    assert queues["changes DLQ age (s)"]["note"] == "not measured locally"

    page = httpx.get(deployment.console.figures_url)
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert "Sync lag (s), EHR change to calendar written" in page.text and 'http-equiv=refresh' in page.text
