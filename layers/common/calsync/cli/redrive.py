"""Moves messages from a dead-letter queue back to where they are processed, after a fix.

    python -m calsync.cli.redrive --queue-url <DLQ url> --to-queue <changes queue url> [--dry-run] [--max 100]
    python -m calsync.cli.redrive --queue-url <DLQ url> --to-bus <bus name> [--dry-run]

Each message is listed with its id, the reason calsync recorded (``calsync_reason``: field names and
codes, never values) and the appointment it concerns (identifiers only: the body may hold patient
details and is never printed). Without ``--dry-run`` a message is sent on and only then deleted from
the dead-letter queue, so a failure midway loses nothing (at worst one message is delivered twice,
which the engine absorbs). A message that is still malformed after the fix comes back to the
dead-letter queue with its reason; each run moves every message at most once.

``--to-queue`` sends the body unchanged (the EventBridge envelope SQS delivered); ``--to-bus`` puts the
event on the bus again, so every rule sees it. See docs/operations.md for the whole procedure.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_sqs import SQSClient

RECEIVE_BATCH = 10
HIDE_SECONDS = 60


@dataclass(frozen=True)
class Letter:
    message_id: str
    reason: str
    appointment: str  # tenant#appointment when the body names them, else "(unreadable)"
    moved: bool


def _appointment(body: str) -> str:
    try:
        detail = json.loads(body).get("detail") or {}
        return f"{detail.get('tenant_id', '?')}#{detail.get('appointment_id', '?')}"
    except (ValueError, AttributeError, RecursionError):  # RecursionError: JSON nested too deep to parse
        return "(unreadable)"


def _to_bus(events: EventBridgeClient, bus_name: str) -> Callable[[str], None]:
    def send(body: str) -> None:
        envelope: dict[str, Any] = json.loads(body)
        response = events.put_events(Entries=[{
            "EventBusName": bus_name, "Source": envelope["source"], "DetailType": envelope["detail-type"],
            "Detail": json.dumps(envelope["detail"])}])
        if response.get("FailedEntryCount"):
            raise RuntimeError("PutEvents refused the event")

    return send


def _to_queue(sqs: SQSClient, queue_url: str) -> Callable[[str], None]:
    def send(body: str) -> None:
        sqs.send_message(QueueUrl=queue_url, MessageBody=body)

    return send


def redrive(sqs: SQSClient, dead_letter_url: str, send: Callable[[str], None] | None, *,
            limit: int = 100) -> list[Letter]:
    """Moves up to ``limit`` messages with ``send`` (None: a dry run that only lists them)."""
    letters: list[Letter] = []
    seen: set[str] = set()
    hidden: list[str] = []  # receipt handles a dry run must make visible again
    while len(letters) < limit:
        messages = sqs.receive_message(QueueUrl=dead_letter_url, MaxNumberOfMessages=RECEIVE_BATCH,
                                       MessageAttributeNames=["All"], VisibilityTimeout=HIDE_SECONDS,
                                       WaitTimeSeconds=0).get("Messages", [])
        fresh = [m for m in messages if m["MessageId"] not in seen]
        if not fresh:
            break
        for message in fresh[:limit - len(letters)]:
            seen.add(message["MessageId"])
            attribute = message.get("MessageAttributes", {}).get("calsync_reason")
            reason = attribute.get("StringValue", "(none)") if attribute else "(none)"
            if send is not None:
                send(message["Body"])
                sqs.delete_message(QueueUrl=dead_letter_url, ReceiptHandle=message["ReceiptHandle"])
            else:
                hidden.append(message["ReceiptHandle"])
            letters.append(Letter(message["MessageId"], reason, _appointment(message["Body"]), send is not None))
    for handle in hidden:  # a dry run hid what it listed: visible again at once
        sqs.change_message_visibility(QueueUrl=dead_letter_url, ReceiptHandle=handle, VisibilityTimeout=0)
    return letters


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m calsync.cli.redrive",
                                     description="Replay dead-lettered calsync messages after a fix.")
    parser.add_argument("--queue-url", required=True, help="the dead-letter queue")
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--to-queue", help="the queue to send the messages to (the changes queue)")
    target.add_argument("--to-bus", help="the calsync event bus to put the events on again")
    parser.add_argument("--dry-run", action="store_true", help="list what would move; move nothing")
    parser.add_argument("--max", type=int, default=100, help="move at most this many (default 100)")
    args = parser.parse_args(argv)

    import boto3

    sqs: SQSClient = boto3.client("sqs")
    send: Callable[[str], None] | None = None
    if not args.dry_run:
        send = _to_queue(sqs, args.to_queue) if args.to_queue else _to_bus(boto3.client("events"), args.to_bus)
    letters = redrive(sqs, args.queue_url, send, limit=args.max)
    for letter in letters:
        print(f"{'moved' if letter.moved else 'would move'}  {letter.message_id}  {letter.appointment}  "
              f"reason: {letter.reason}")
    print(f"{len(letters)} message(s) {'moved' if not args.dry_run else 'listed (dry run)'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
