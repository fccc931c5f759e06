"""``calsync dlq``: look into a dead-letter queue and move its messages back where they are processed, after a fix.

Each message is listed with its id, the reason calsync recorded (``calsync_reason``: field names and codes,
never values), the appointment it concerns (identifiers only: the body may hold patient details and is
never printed) and its age. A redrive sends each message on and only then deletes it from the dead-letter
queue, so an interruption (Ctrl-C, a crash) loses nothing: at worst one message is delivered twice, which
the engine absorbs. A message that is still malformed comes back with its reason; one run moves each message
at most once. ``--to queue`` sends the body unchanged (the EventBridge envelope SQS delivered); ``--to bus``
puts the event on the bus again, so every rule sees it. docs/operations.md has the whole procedure.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from calsync.cli.ui import connect, console, guarded, interruptible, print_json, progress

if TYPE_CHECKING:
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_sqs import SQSClient

RECEIVE_BATCH = 10
HIDE_SECONDS = 60

app = typer.Typer(help="Inspect a dead-letter queue and redrive it after a fix.", no_args_is_help=True)


class Queue(StrEnum):
    CHANGES = "changes"  # changes the handler dead-lettered (poison) or SQS gave up on
    RULE = "rule"  # events the bus rule could not deliver to the change queue


class Destination(StrEnum):
    QUEUE = "queue"
    BUS = "bus"


@dataclass(frozen=True)
class Letter:
    message_id: str
    reason: str
    appointment: str  # tenant#appointment when the body names them, else "(unreadable)"
    sent_at: dt.datetime | None
    moved: bool


def appointment_of(body: str) -> str:
    try:
        detail = json.loads(body).get("detail") or {}
        return f"{detail.get('tenant_id', '?')}#{detail.get('appointment_id', '?')}"
    except (ValueError, AttributeError, RecursionError):  # RecursionError: JSON nested too deep to parse
        return "(unreadable)"


def to_bus(events: EventBridgeClient, bus_name: str) -> Callable[[str], None]:
    def send(body: str) -> None:
        envelope: dict[str, Any] = json.loads(body)
        response = events.put_events(Entries=[{
            "EventBusName": bus_name, "Source": envelope["source"], "DetailType": envelope["detail-type"],
            "Detail": json.dumps(envelope["detail"])}])
        if response.get("FailedEntryCount"):
            raise RuntimeError("PutEvents refused the event")

    return send


def to_queue(sqs: SQSClient, queue_url: str) -> Callable[[str], None]:
    def send(body: str) -> None:
        sqs.send_message(QueueUrl=queue_url, MessageBody=body)

    return send


def redrive(sqs: SQSClient, dead_letter_url: str, send: Callable[[str], None] | None, *, limit: int = 100,
            on_letter: Callable[[Letter], None] | None = None, should_stop: Callable[[], bool] = lambda: False,
            ) -> list[Letter]:
    """Moves up to ``limit`` messages with ``send`` (None: a dry run that only lists them)."""
    letters: list[Letter] = []
    seen: set[str] = set()
    hidden: list[str] = []  # receipt handles a dry run must make visible again
    try:
        while len(letters) < limit and not should_stop():
            messages = sqs.receive_message(QueueUrl=dead_letter_url, MaxNumberOfMessages=RECEIVE_BATCH,
                                           MessageAttributeNames=["All"], AttributeNames=["SentTimestamp"],
                                           VisibilityTimeout=HIDE_SECONDS, WaitTimeSeconds=0).get("Messages", [])
            fresh = [m for m in messages if m["MessageId"] not in seen]
            if not fresh:
                break
            for message in fresh[:limit - len(letters)]:
                seen.add(message["MessageId"])
                if should_stop():  # received but not handled: visible again at once
                    hidden.append(message["ReceiptHandle"])
                    continue
                attribute = message.get("MessageAttributes", {}).get("calsync_reason")
                sent = message.get("Attributes", {}).get("SentTimestamp")
                if send is not None:
                    send(message["Body"])
                    sqs.delete_message(QueueUrl=dead_letter_url, ReceiptHandle=message["ReceiptHandle"])
                else:
                    hidden.append(message["ReceiptHandle"])
                letter = Letter(message["MessageId"], attribute.get("StringValue", "(none)") if attribute else "(none)",
                                appointment_of(message["Body"]),
                                dt.datetime.fromtimestamp(int(sent) / 1000, dt.UTC) if sent else None,
                                send is not None)
                letters.append(letter)
                if on_letter is not None:
                    on_letter(letter)
    finally:
        for handle in hidden:  # listed (or left) without moving: visible again at once
            sqs.change_message_visibility(QueueUrl=dead_letter_url, ReceiptHandle=handle, VisibilityTimeout=0)
    return letters


def _queue_url(ctx: typer.Context, queue: Queue) -> str:
    target = connect(ctx)
    if queue is Queue.RULE:
        return target.require("CALSYNC_RULE_DEAD_LETTER_QUEUE_URL", "the bus rule's dead-letter queue")
    return target.require("CALSYNC_DEAD_LETTER_QUEUE_URL", "the changes dead-letter queue")


def _depth(sqs: SQSClient, url: str) -> int:
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
    return int(attributes["Attributes"].get("ApproximateNumberOfMessages", "0"))


QueueOption = Annotated[Queue, typer.Option(help="changes: the change queue's DLQ; rule: the bus rule's DLQ.")]
MaxOption = Annotated[int, typer.Option("--max", min=1, help="At most this many messages.")]


@app.command("inspect")
@guarded
def inspect_queue(ctx: typer.Context, queue: QueueOption = Queue.CHANGES, limit: MaxOption = 100,
                  as_json: Annotated[bool, typer.Option("--json", help="JSON instead of a table.")] = False) -> None:
    """List what is in a dead-letter queue and why (nothing moves)."""
    url = _queue_url(ctx, queue)
    sqs: SQSClient = connect(ctx).client("sqs")
    letters = redrive(sqs, url, None, limit=limit)
    if as_json:
        print_json([{"message_id": x.message_id, "appointment": x.appointment, "reason": x.reason,
                     "sent_at": x.sent_at} for x in letters])
        return
    table = Table(title=f"{queue.value} dead-letter queue: {len(letters)} message(s)", title_justify="left")
    for column in ("message", "appointment", "sent", "reason"):
        table.add_column(column, overflow="fold")
    for letter in letters:
        sent = f"{letter.sent_at:%Y-%m-%d %H:%M:%S}" if letter.sent_at else "-"
        table.add_row(letter.message_id, letter.appointment, sent, letter.reason)
    console.print(table)


@app.command("redrive")
@guarded
def redrive_command(ctx: typer.Context, queue: QueueOption = Queue.CHANGES,
                    to: Annotated[Destination, typer.Option(help="queue: back to the change queue as delivered; "
                                                                 "bus: onto the bus again (every rule sees it).")]
                    = Destination.QUEUE,
                    dry_run: Annotated[bool, typer.Option(help="List what would move; move nothing.")] = False,
                    limit: MaxOption = 100) -> None:
    """Move the messages of a dead-letter queue back to be processed (after the cause is fixed)."""
    url = _queue_url(ctx, queue)
    target = connect(ctx)
    sqs: SQSClient = target.client("sqs")
    send: Callable[[str], None] | None = None
    if not dry_run:
        send = (to_queue(sqs, target.require("CALSYNC_CHANGES_QUEUE_URL", "the change queue"))
                if to is Destination.QUEUE else
                to_bus(target.client("events"), target.require("CALSYNC_EVENT_BUS_NAME", "the event bus")))
    total = min(limit, _depth(sqs, url))
    verb = "would move" if dry_run else "moved"
    with interruptible() as stop, progress() as bar:
        task = bar.add_task(f"{'listing' if dry_run else 'moving'} ({queue.value} DLQ → {to.value})", total=total)

        def moved(letter: Letter) -> None:
            bar.advance(task)
            bar.console.print(f"{verb}  {letter.message_id}  {letter.appointment}  reason: {letter.reason}")

        letters = redrive(sqs, url, send, limit=limit, on_letter=moved, should_stop=stop)
    console.print(f"{len(letters)} message(s) {'listed (dry run)' if dry_run else 'moved'}")
