"""Poison input and the dead-letter redrive: a malformed event lands in the DLQ with a reason an
operator can read; ``calsync dlq`` lists (dry run) and replays what is there after a fix."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from calsync.cli import dead_letters as dlq
from calsync.cli.main import app
from calsync.domain.contract import parse_detail
from devstack import sample_day
from devstack.stack import ACCOUNT_ID, LocalStack, StackResources
from tests.support.pipeline import captured_logs, dead_letters, deliver, drain
from tests.support.reliability import connect, shown, title


def test_poison_is_dead_lettered_with_a_reason_and_a_redrive_replays_after_the_fix(
        stack: LocalStack, stack_resources: StackResources, tenant_id: str) -> None:
    dead_letters(stack, stack_resources)  # start from an empty DLQ
    clinician = connect(stack, tenant_id, sample_day.OKAFOR)
    good = sample_day.changes(tenant_id)[0]
    detail = json.loads(good["Detail"])
    poison = sample_day.envelope({**detail, "appointment_id": "apt-poison", "timezone": "Mars/Olympus_Mons"})
    deliver(stack, stack_resources, [poison])
    # a valid change that failed every delivery while DynamoDB was down: SQS moved it to the DLQ too
    stranded = {**good, "EventBusName": stack_resources.event_bus_name}
    sqs = stack.client("sqs")
    sqs.send_message(QueueUrl=stack_resources.changes.dlq_url, MessageBody=json.dumps(
        {"version": "0", "id": "e-1", "detail-type": stranded["DetailType"], "source": stranded["Source"],
         "account": ACCOUNT_ID, "detail": json.loads(stranded["Detail"])}))

    with captured_logs():
        listed = dlq.redrive(sqs, stack_resources.changes.dlq_url, None)
    assert sorted(letter.appointment for letter in listed) == [f"{tenant_id}#apt-101", f"{tenant_id}#apt-poison"]
    reasons = {letter.appointment: letter.reason for letter in listed}
    assert "timezone" in reasons[f"{tenant_id}#apt-poison"]  # names the field, never the value
    assert "Mars" not in reasons[f"{tenant_id}#apt-poison"]
    assert not any(letter.moved for letter in listed)

    # the operator replays (the CLI, as docs/operations.md says) and the handler drains the queue
    assert CliRunner().invoke(app, ["dlq", "redrive", "--to", "queue"]).exit_code == 0
    drain(stack, stack_resources)
    assert [shown_title for shown_title, _ in shown(clinician)] == [title(clinician, parse_detail(detail))]
    # the poison is still poison: back in the DLQ with its reason, moved once per run, not looping
    again = dead_letters(stack, stack_resources)
    assert [letter["body"]["detail"]["appointment_id"] for letter in again] == ["apt-poison"]
    assert "timezone" in (again[0]["reason"] or "")


def test_a_redrive_to_the_bus_goes_through_the_rule(stack: LocalStack, stack_resources: StackResources,
                                                    tenant_id: str) -> None:
    dead_letters(stack, stack_resources)
    clinician = connect(stack, tenant_id, sample_day.OKAFOR)
    change = sample_day.changes(tenant_id)[0]
    sqs = stack.client("sqs")
    sqs.send_message(QueueUrl=stack_resources.changes.dlq_url, MessageBody=json.dumps(
        {"detail-type": change["DetailType"], "source": change["Source"], "detail": json.loads(change["Detail"])}))
    moved = dlq.redrive(sqs, stack_resources.changes.dlq_url,
                        dlq.to_bus(stack.client("events"), stack_resources.event_bus_name))
    assert [letter.moved for letter in moved] == [True]
    drain(stack, stack_resources)
    assert len(shown(clinician)) == 1
    assert dead_letters(stack, stack_resources) == []
