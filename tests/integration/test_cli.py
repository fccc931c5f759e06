"""The operator's ``calsync`` command, every subcommand driven against the local deployment (the ``deployment``
fixture's environment, as ``--env-file`` would give it) and once against a stack's CloudFormation outputs.

What an operator sees is checked as data (``--json``) where the command offers it, and as the printed table or
summary otherwise; no output carries a patient's name.
"""

from __future__ import annotations

import datetime as dt
import json
import queue
import re
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from calsync.cli.main import app
from calsync.cli.target import OUTPUTS
from calsync.domain.model import ClientDisplay, IntegrationStatus, PrivacySettings
from calsync.services import engine, feeds, sweeper
from calsync.store import appointments, integrations
from devstack import sample_day
from devstack.deployment import Deployment
from devstack.stack import LocalStack, StackResources
from tests.support.pipeline import dead_letters, deliver, drain, put_events
from tests.support.reliability import Clock, Ehr, connect, shown

NAME = "Zebulonqa"
DETAILED = PrivacySettings(client_display=ClientDisplay.FULL_NAME, show_visit_type=True)


def cli(*arguments: str, code: int = 0) -> Result:
    result = CliRunner().invoke(app, list(arguments), env={"COLUMNS": "220"}, catch_exceptions=False)
    assert result.exit_code == code, f"calsync {' '.join(arguments)} → {result.exit_code}:\n{result.output}"
    assert NAME not in result.output, "a patient's name in the operator's output"
    return result


def as_json(*arguments: str) -> Any:
    return json.loads(cli(*arguments, "--json").stdout)


def figure(output: str, label: str) -> int:
    """A number of a command's summary table (``label  N``)."""
    found = re.search(re.escape(label) + r"[\s│|]+(\d+)", output)
    assert found is not None, f"no {label!r} in:\n{output}"
    return int(found.group(1))


SYNCED = "calendars synced (behind, now in step)"


def named(ehr: Ehr, appointment_id: str, hour: int, **extra: Any) -> Any:
    return ehr.change(appointment_id, hour, client={"id": f"cl-{appointment_id}", "internal_id": "MRN-1",
                                                    "first_name": NAME}, **extra)


def test_the_command_is_installed_with_the_project() -> None:
    command = shutil.which("calsync", path=str(Path(sys.executable).parent))
    assert command is not None, "make install installs the project (pyproject [project.scripts])"
    done = subprocess.run([command, "--help"], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0
    for group in ("status", "ledger", "resync", "dlq", "pause", "resume", "disconnect", "logs", "audit"):
        assert group in done.stdout


def test_status_lists_integrations_with_their_status(stack: LocalStack, tenant_id: str, clock: Clock) -> None:
    first, second = connect(stack, tenant_id, "dr-a"), connect(stack, tenant_id, "dr-b")
    cli("pause", second.integration.integration_id)
    rows = {row["integration_id"]: row for row in as_json("status", "--tenant", tenant_id)}
    assert {i: r["status"] for i, r in rows.items()} == {first.integration.integration_id: "pending",
                                                         second.integration.integration_id: "paused"}
    assert rows[first.integration.integration_id]["provider"] == "caldav"
    paused = as_json("status", "--tenant", tenant_id, "--status", "paused")
    assert [row["integration_id"] for row in paused] == [second.integration.integration_id]
    table = cli("status", "--tenant", tenant_id).stdout
    assert first.integration.integration_id in table and "2 integration(s)" in table and "paused 1" in table


def test_ledger_shows_should_hold_against_holds_and_resync_brings_an_appointment_in_step(
        stack: LocalStack, tenant_id: str, ehr: Ehr) -> None:
    clinician = connect(stack, tenant_id, "dr-okafor", privacy=DETAILED)
    engine.handle_change(named(ehr, "apt-1", 10))
    feed, _ = feeds.create_feed(tenant_id, "dr-okafor", privacy=DETAILED, backfill=False)  # follows, holds nothing

    rows = {row["integration_id"]: row for row in as_json("ledger", "--appointment", "apt-1", "--tenant", tenant_id)}
    caldav = rows[clinician.integration.integration_id]
    assert (caldav["state"], caldav["verdict"], caldav["should"]) == ("synced", "in step", "event")
    assert caldav["should_hash"] == caldav["holds_hash"]
    assert caldav["fields"] == ["client_full_name", "practice_name", "time"]
    assert (rows[feed.integration_id]["state"], rows[feed.integration_id]["verdict"]) == (None, "behind: never_synced")

    synced = cli("resync", "appointment", "apt-1", "--tenant", tenant_id).stdout
    assert feed.integration_id in synced and "written" in synced and "unchanged" in synced
    after = as_json("ledger", "--appointment", "apt-1", "--tenant", tenant_id)
    assert {row["verdict"] for row in after} == {"in step"}

    forced = cli("resync", "appointment", "apt-1", "--tenant", tenant_id, "--force").stdout
    assert forced.count("written") == 2  # both rewritten although the ledger said in step
    assert len(shown(clinician)) == 1

    (row,) = as_json("ledger", "--integration", clinician.integration.integration_id)
    assert (row["appointment_key"], row["verdict"]) == (f"{tenant_id}#apt-1", "in step")
    table = cli("ledger", "--integration", clinician.integration.integration_id).stdout
    assert "in step" in table and "1 item(s), 0 not in step" in table
    cli("ledger", "--appointment", "apt-1", code=1)  # without --tenant: a clear error, not a traceback


def test_an_integration_resync_stops_where_told_resumes_and_finishes(stack: LocalStack, tenant_id: str, ehr: Ehr,
                                                                     clock: Clock) -> None:
    for hour in range(8, 13):  # the EHR's appointments from before the clinician connected
        appointments.save_if_newer(named(ehr, f"apt-{hour}", hour), received_at=clock.now)
    clinician = connect(stack, tenant_id, "dr-okafor", privacy=DETAILED)
    integration_id = clinician.integration.integration_id

    stopped = cli("resync", "integration", integration_id, "--stop-after", "2", code=3).stdout
    assert "stopped before the end" in stopped and figure(stopped, SYNCED) == 2
    assert len(shown(clinician)) == 2

    finished = cli("resync", "integration", integration_id).stdout
    assert "resuming" in finished and "complete" in finished
    assert figure(finished, SYNCED) == 3 and figure(finished, "appointments examined") >= 3
    assert len(shown(clinician)) == 5
    assert integrations.get(integration_id).status is IntegrationStatus.ACTIVE  # type: ignore[union-attr]
    again = cli("resync", "integration", integration_id, "--restart").stdout  # all in step: nothing written
    assert figure(again, SYNCED) == 0 and "complete" in again


def test_a_practice_resync_left_unfinished_is_finished_by_the_sweeper(stack: LocalStack, tenant_id: str, ehr: Ehr,
                                                                       clock: Clock) -> None:
    for n, practitioner in enumerate(("dr-a", "dr-a", "dr-b", "dr-b")):
        appointments.save_if_newer(ehr.change(f"apt-{n}", 9 + n, practitioner=practitioner), received_at=clock.now)
    clinicians = [connect(stack, tenant_id, p) for p in ("dr-a", "dr-b")]

    cli("resync", "practice", "main-street", "--tenant", tenant_id, "--stop-after", "1", code=3)
    assert sum(len(shown(c)) for c in clinicians) == 1
    sweeper.run()  # the operator walked away: the sweeper goes on from the stored cursor
    assert [len(shown(c)) for c in clinicians] == [2, 2]
    done = cli("resync", "practice", "main-street", "--tenant", tenant_id).stdout
    assert "complete" in done and figure(done, SYNCED) == 0


def test_dlq_inspect_and_redrive_with_a_dry_run(stack: LocalStack, stack_resources: StackResources,
                                                tenant_id: str) -> None:
    dead_letters(stack, stack_resources)
    clinician = connect(stack, tenant_id, sample_day.OKAFOR)
    good = sample_day.changes(tenant_id)[0]
    detail = json.loads(good["Detail"])
    poison = sample_day.envelope({**detail, "appointment_id": "apt-poison", "timezone": "Mars/Olympus_Mons"})
    deliver(stack, stack_resources, [poison])
    stack.client("sqs").send_message(QueueUrl=stack_resources.changes.dlq_url, MessageBody=json.dumps(
        {"version": "0", "id": "e-1", "detail-type": good["DetailType"], "source": good["Source"], "detail": detail}))

    listed = {row["appointment"]: row for row in as_json("dlq", "inspect")}
    assert set(listed) == {f"{tenant_id}#apt-poison", f"{tenant_id}#apt-101"}
    assert "timezone" in listed[f"{tenant_id}#apt-poison"]["reason"] and "Mars" not in json.dumps(listed)
    assert listed[f"{tenant_id}#apt-poison"]["sent_at"] is not None
    assert as_json("dlq", "inspect", "--queue", "rule") == []

    dry = cli("dlq", "redrive", "--dry-run").stdout
    assert "would move" in dry and "2 message(s) listed (dry run)" in dry
    assert len(as_json("dlq", "inspect")) == 2  # nothing moved, everything visible again

    moved = cli("dlq", "redrive", "--to", "bus").stdout
    assert "2 message(s) moved" in moved
    drain(stack, stack_resources)
    assert len(shown(clinician)) == 1
    assert [row["appointment"] for row in as_json("dlq", "inspect")] == [f"{tenant_id}#apt-poison"]  # still poison
    dead_letters(stack, stack_resources)


def test_pause_resume_disconnect_and_replay(stack: LocalStack, tenant_id: str, clock: Clock) -> None:
    integration_id = connect(stack, tenant_id, "dr-a").integration.integration_id

    def state() -> str:
        found = integrations.get(integration_id)
        assert found is not None
        return found.status.value

    assert "pause " in cli("pause", integration_id).stdout and state() == "paused"
    assert "nothing to do" in cli("pause", integration_id).stdout
    assert "done" in cli("resume", integration_id, "--backfill").stdout and state() == "active"
    assert "done" in cli("replay", integration_id).stdout
    assert "done" in cli("disconnect", integration_id).stdout and state() == "disconnected"
    assert "no such integration" in cli("pause", "int-nobody", code=1).stderr


def test_logs_follow_one_appointment_through_the_handlers(deployment: Deployment, stack: LocalStack,
                                                          stack_resources: StackResources, tenant_id: str) -> None:
    clinician = connect(stack, tenant_id, sample_day.OKAFOR, privacy=DETAILED)
    deliver(stack, stack_resources, sample_day.changes(tenant_id)[:4])
    lines = [json.loads(line) for line in cli("logs", "--appointment", "apt-102", "--tenant", tenant_id,
                                              "--since", "10m", "--json").stdout.splitlines()]
    assert lines and {line["appointment_id"] for line in lines} == {"apt-102"}
    assert {line["tenant_id"] for line in lines} == {tenant_id}
    messages = {line["message"] for line in lines}
    assert {"change applied", "provider call"} <= messages
    assert {line["function"] for line in lines} == {"on-appointment-change"}
    call = next(line for line in lines if line["message"] == "provider call")
    assert call["integration_id"] == clinician.integration.integration_id and call["duration_ms"] >= 0

    table = cli("logs", "--integration", clinician.integration.integration_id, "--since", "10m").stdout
    assert "provider call" in table and "apt-101" in table and "apt-102" in table
    assert cli("logs", "--tenant", tenant_id, "--function", "feed", "--since", "10m").stdout.strip() == ""
    cli("logs", "--since", "ten minutes", code=1)


def test_feeds_pass_through(stack: LocalStack, tenant_id: str) -> None:
    created = json.loads(cli("feeds", "create", "--tenant", tenant_id, "--practitioner", "dr-a",
                             "--no-backfill").stdout)
    assert created["feed_id"].startswith("feed_") and created["token_id"]
    tokens = json.loads(cli("feeds", "tokens", "--tenant", tenant_id, "--feed", created["feed_id"]).stdout)
    assert [t["token_id"] for t in tokens["tokens"]] == [created["token_id"]]


def test_a_deployed_stack_is_found_by_its_cloudformation_outputs(stack: LocalStack, stack_resources: StackResources,
                                                                 tenant_id: str, monkeypatch: pytest.MonkeyPatch,
                                                                 deployment: Deployment) -> None:
    """`--stack` reads everything from the stack's outputs (here a stack in moto's CloudFormation whose outputs
    name the local resources) and reads logs from CloudWatch Logs (moto's)."""
    import os

    environment = deployment.env()
    outputs = {key: environment.get(variable, "") for key, variable in OUTPUTS.items()}
    outputs["FunctionLogGroups"] = f"/aws/lambda/calsync-{tenant_id}/on-appointment-change"
    outputs["DisclosureRetentionDays"] = "2192"
    template = {"Resources": {"Nothing": {"Type": "AWS::CloudFormation::WaitConditionHandle"}},
                "Outputs": {key: {"Value": value} for key, value in outputs.items()}}
    name = f"calsync-{tenant_id}"
    stack.client("cloudformation").create_stack(StackName=name, TemplateBody=json.dumps(template))
    logs = stack.client("logs")
    logs.create_log_group(logGroupName=outputs["FunctionLogGroups"])
    logs.create_log_stream(logGroupName=outputs["FunctionLogGroups"], logStreamName="s")
    now_ms = int(dt.datetime.now(dt.UTC).timestamp() * 1000)
    logs.put_log_events(logGroupName=outputs["FunctionLogGroups"], logStreamName="s", logEvents=[
        {"timestamp": now_ms, "message": json.dumps({"level": "INFO", "message": "change applied",
                                                     "tenant_id": tenant_id, "appointment_id": "apt-9"})},
        {"timestamp": now_ms + 1, "message": json.dumps({"level": "INFO", "message": "change applied",
                                                         "tenant_id": tenant_id, "appointment_id": "apt-8"})}])
    clinician = connect(stack, tenant_id, "dr-a")
    for variable in OUTPUTS.values():  # nothing of the local deployment's own environment helps
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.delenv("CALSYNC_LOCAL_LOGS", raising=False)
    assert "CALSYNC_LEDGER_TABLE" not in os.environ

    rows = as_json("--stack", name, "--region", "us-east-1", "status", "--tenant", tenant_id)
    assert [row["integration_id"] for row in rows] == [clinician.integration.integration_id]
    found = cli("--stack", name, "--region", "us-east-1", "logs", "--appointment", "apt-9", "--json").stdout
    assert '"apt-9"' in found and '"apt-8"' not in found
    missing = cli("--stack", "calsync-nowhere", "--region", "us-east-1", "status", code=1).stderr
    assert "calsync-nowhere" in missing


def test_without_a_target_the_command_says_how_to_give_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CALSYNC_LEDGER_TABLE")
    said = cli("status", code=1).stderr
    assert "--stack" in said and "--env-file" in said


def test_an_env_file_points_the_command_at_a_deployment(deployment: Deployment, tenant_id: str, stack: LocalStack,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    connect(stack, tenant_id, "dr-a")
    path = deployment.operator_env_file()
    for variable in [*OUTPUTS.values(), "CALSYNC_LOCAL_LOGS"]:
        monkeypatch.delenv(variable, raising=False)
    assert len(as_json("--env-file", str(path), "status", "--tenant", tenant_id)) == 1


def test_logs_follow_new_lines_until_ctrl_c(deployment: Deployment, stack: LocalStack,
                                            stack_resources: StackResources, tenant_id: str) -> None:
    """``--follow`` in a second process (as an operator runs it beside the system): lines of a change sent
    after it started appear, and Ctrl-C stops it cleanly."""
    connect(stack, tenant_id, sample_day.OKAFOR)
    command = shutil.which("calsync", path=str(Path(sys.executable).parent))
    assert command is not None
    follower = subprocess.Popen([command, "--env-file", str(deployment.operator_env_file()), "logs", "--tenant",
                                 tenant_id, "--follow", "--since", "1m", "--json"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines: queue.Queue[str] = queue.Queue()
    assert follower.stdout is not None

    def read() -> None:
        for line in follower.stdout or []:
            lines.put(line)

    threading.Thread(target=read, daemon=True).start()
    try:
        put_events(stack, stack_resources, sample_day.changes(tenant_id)[:1])
        drain(stack, stack_resources)
        seen: list[dict[str, Any]] = []
        deadline = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=60)
        while not any(line["message"] == "change applied" for line in seen):
            assert dt.datetime.now(dt.UTC) < deadline, f"no line followed: {seen}"
            try:
                seen.append(json.loads(lines.get(timeout=1)))
            except queue.Empty:
                continue
        assert {line["tenant_id"] for line in seen} == {tenant_id}
    finally:
        follower.send_signal(signal.SIGINT)
        code = follower.wait(timeout=30)
    assert code == 0, follower.stderr.read() if follower.stderr else ""
