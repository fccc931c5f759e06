"""The accounting of disclosures end to end: changes go through the real handler to Radicale and a feed, and
``calsync audit export`` for one patient lists exactly the disclosures made of that patient's visits — in
CSV and JSON, with the fields the privacy settings showed — and nothing of anyone else's."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json

from typer.testing import CliRunner

from calsync.cli.main import app
from calsync.domain.disclosure import COLUMNS
from calsync.domain.model import ClientDisplay, PrivacySettings
from calsync.services import feeds
from devstack import sample_day
from devstack.stack import LocalStack, StackResources
from tests.support.pipeline import deliver
from tests.support.reliability import Ehr, connect


def export(tenant_id: str, client: str, output_format: str, start: str = "2000-01-01",
           end: str = "2999-12-31") -> str:
    result = CliRunner().invoke(app, ["audit", "export", "--tenant", tenant_id, "--client", client, "--from", start,
                                      "--to", end, "--format", output_format], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout


def test_an_export_lists_exactly_the_disclosures_of_one_patient(stack: LocalStack, stack_resources: StackResources,
                                                                tenant_id: str, ehr: Ehr) -> None:
    caldav = connect(stack, tenant_id, "dr-okafor",
                     privacy=PrivacySettings(client_display=ClientDisplay.INITIALS, show_visit_type=True))
    feed, _ = feeds.create_feed(tenant_id, "dr-okafor", backfill=False)  # defaults: internal id, no visit type
    patient = {"id": "cl-7", "internal_id": "MRN-7", "first_name": "Zebulonqa", "last_name": "Quill"}
    other = {"id": "cl-8", "internal_id": "MRN-8"}
    changes = [ehr.change("apt-1", 9, client=patient, visit_type="Therapy"),
               ehr.change("apt-1", 10, client=patient, visit_type="Therapy"),  # rescheduled: written again
               ehr.change("apt-1", 10, client=patient, visit_type="Therapy"),  # the same again: nothing written
               ehr.change("apt-2", 11, client=other),
               ehr.change("apt-3", 12, client=patient, status="cancelled")]  # never shown: nothing disclosed
    deliver(stack, stack_resources, [sample_day.envelope(c.model_dump(mode="json", exclude_none=True))
                                     for c in changes])

    rows = list(csv.DictReader(io.StringIO(export(tenant_id, "cl-7", "csv"))))
    assert [tuple(row) for row in rows[:1]] == [COLUMNS]
    assert sorted((r["appointment_id"], r["integration_id"], r["destination"], r["fields"], r["outcome"])
                  for r in rows) == sorted(
        [("apt-1", caldav.integration.integration_id, "caldav",
          "client_initials practice_name time visit_type", "written")] * 2
        + [("apt-1", feed.integration_id, "ics", "client_internal_id practice_name time", "written")] * 2)
    assert {(r["tenant_id"], r["client_id"]) for r in rows} == {(tenant_id, "cl-7")}
    times = [dt.datetime.fromisoformat(r["at"]) for r in rows]
    assert times == sorted(times) and all(abs(dt.datetime.now(dt.UTC) - t) < dt.timedelta(minutes=5) for t in times)

    document = json.loads(export(tenant_id, "cl-7", "json"))
    assert (document["tenant_id"], document["client_id"]) == (tenant_id, "cl-7")
    assert document["disclosures"] == rows
    everything = export(tenant_id, "cl-7", "json") + export(tenant_id, "cl-7", "csv")
    for detail in ("Zebulonqa", "Quill", "MRN-7", "Therapy", "cl-8"):
        assert detail not in everything  # identifiers and field names only

    assert len(list(csv.DictReader(io.StringIO(export(tenant_id, "cl-8", "csv"))))) == 2  # caldav and feed
    yesterday = (dt.datetime.now(dt.UTC) - dt.timedelta(days=1)).date().isoformat()
    assert list(csv.DictReader(io.StringIO(export(tenant_id, "cl-7", "csv", "2000-01-01", yesterday)))) == []
    assert export("another-tenant", "cl-7", "csv").strip() == ",".join(COLUMNS)


def test_a_period_that_ends_before_it_starts_is_refused(stack: LocalStack) -> None:
    result = CliRunner().invoke(app, ["audit", "export", "--tenant", "t", "--client", "c", "--from", "2026-02-01",
                                      "--to", "2026-01-01"])
    assert result.exit_code == 1 and "ends before it starts" in result.stderr
