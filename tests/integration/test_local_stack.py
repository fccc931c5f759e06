"""The local stack is the real thing: AWS's DynamoDB Local (kept off every non-loopback address), moto's
EventBridge → SQS routing, Radicale with real authentication, and Lambda's SQS batch semantics."""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import json
import socket
import subprocess
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.parser.models import SqsModel
from botocore.exceptions import ClientError

from devstack.dynamodb_local import INNER_PORT
from devstack.lambda_runner import SqsEventSource
from devstack.netns_forward import namespace_inode
from devstack.stack import EVENT_BUS_NAME, TABLE_NAMES, LocalStack, StackResources

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


# -- DynamoDB Local ---------------------------------------------------------------------------------


def test_dynamodb_local_refuses_a_26_item_batch_write_that_moto_would_accept(stack: LocalStack, tenant_id: str):
    # GIVEN 26 ledger items for one integration
    ddb = stack.client("dynamodb")
    table = TABLE_NAMES["CALSYNC_LEDGER_TABLE"]
    integration = f"{tenant_id}#int-1"
    puts: list[Any] = [
        {"PutRequest": {"Item": {"integration_id": {"S": integration}, "appointment_key": {"S": f"{tenant_id}#a{n}"}}}}
        for n in range(26)
    ]

    # WHEN all 26 go in one BatchWriteItem THEN DynamoDB's own limit applies
    with pytest.raises(ClientError) as refused:
        ddb.batch_write_item(RequestItems={table: puts})
    assert refused.value.response["Error"]["Code"] == "ValidationException"

    # AND 25 are written through the forwarder, and read back
    ddb.batch_write_item(RequestItems={table: puts[:25]})
    stored = ddb.query(
        TableName=table,
        KeyConditionExpression="integration_id = :i",
        ExpressionAttributeValues={":i": {"S": integration}},
        Select="COUNT",
    )
    assert stored["Count"] == 25


def test_dynamodb_local_listens_only_in_its_own_namespace_and_is_exposed_on_loopback_only(stack: LocalStack):
    # GIVEN the JVM's own view: it listens on a wildcard address (it has no host option)
    java = stack.dynamodb.pid
    assert namespace_inode(java) != namespace_inode("self")
    java_listeners = [entry for entry in _listeners(f"/proc/{java}/net") if entry[1] == INNER_PORT]
    assert java_listeners, "DynamoDB Local is not listening inside its namespace"
    assert all(address.is_unspecified for address, _, _ in java_listeners)

    # THEN none of its listening sockets exists in this namespace
    ours = _listeners("/proc/self/net")
    assert {inode for _, _, inode in java_listeners}.isdisjoint(inode for _, _, inode in ours)

    # AND the only listener on the forwarded port here is 127.0.0.1
    assert {address for address, port, _ in ours if port == stack.ports.dynamodb} == {ipaddress.ip_address("127.0.0.1")}

    # AND no other address of this namespace accepts a connection on that port
    for address in [*_non_loopback_addresses(), ipaddress.ip_address("::1")]:
        with pytest.raises(OSError):
            socket.create_connection((str(address), stack.ports.dynamodb), timeout=1).close()


# -- EventBridge → SQS ------------------------------------------------------------------------------


def test_the_bus_rule_delivers_appointment_changes_from_ehr_sources_only(
    stack: LocalStack, stack_resources: StackResources, tenant_id: str
):
    # GIVEN one matching event and four that must not reach the queue
    def entry(
        case: str, source: str = "ehr.acme", detail_type: str = "Appointment Changed", bus: str = EVENT_BUS_NAME
    ) -> Any:
        detail = json.dumps({"tenant_id": tenant_id, "case": case})
        return {"EventBusName": bus, "Source": source, "DetailType": detail_type, "Detail": detail}

    entries = [
        entry("wrong-source", source="billing.acme"),
        entry("prefix-not-leading", source="acme.ehr"),
        entry("wrong-detail-type", detail_type="Appointment Created"),
        entry("default-bus", bus="default"),
        entry("match"),
    ]

    # WHEN they are put on the bus
    put = stack.client("events").put_events(Entries=entries)
    assert put["FailedEntryCount"] == 0

    # THEN only the matching one arrives, as a full EventBridge envelope
    delivered = _take_tenant_messages(stack, stack_resources.changes.url, tenant_id)
    assert [body["detail"]["case"] for body in delivered] == ["match"]
    assert delivered[0]["detail-type"] == "Appointment Changed"
    assert delivered[0]["source"] == "ehr.acme"


# -- Secrets Manager --------------------------------------------------------------------------------


def test_put_secret_returns_one_arn_per_name_and_the_latest_value_is_current(stack: LocalStack, tenant_id: str):
    # GIVEN a secret stored, then stored again under the same name
    first = stack.put_secret(tenant_id, "integrations/int-1", {"password": "one"})
    second = stack.put_secret(tenant_id, "integrations/int-1", {"password": "two"})

    # THEN it is one secret, named and tagged for its tenant, and its current value is the second
    assert first == second
    assert first.startswith(f"arn:aws:secretsmanager:us-east-1:123456789012:secret:calsync/{tenant_id}/integrations/")
    secrets = stack.client("secretsmanager")
    current = secrets.get_secret_value(SecretId=first, VersionStage="AWSCURRENT")
    assert json.loads(current["SecretString"]) == {"password": "two"}
    assert secrets.describe_secret(SecretId=first)["Tags"] == [{"Key": "calsync-tenant", "Value": tenant_id}]


# -- Radicale ---------------------------------------------------------------------------------------


def test_radicale_rejects_a_wrong_password_and_other_users_and_accepts_the_owner(stack: LocalStack, tenant_id: str):
    # GIVEN two accounts added while Radicale is running, and a calendar of the first
    owner, other = f"dr-{tenant_id}", f"other-{tenant_id}"
    stack.radicale.add_user(owner, "owner-secret")
    stack.radicale.add_user(other, "other-secret")
    calendar = stack.radicale.make_calendar(owner, "work", "Work")
    event_url = f"{calendar}{tenant_id}.ics"
    ics = _vevent(uid=f"{tenant_id}@calsync.test")
    headers = {"Content-Type": "text/calendar; charset=utf-8", "If-None-Match": "*"}

    # WHEN / THEN a wrong password gets 401, another user 403, the owner 201
    assert httpx.put(event_url, content=ics, headers=headers, auth=(owner, "wrong")).status_code == 401
    assert httpx.put(event_url, content=ics, headers=headers, auth=(other, "other-secret")).status_code == 403
    assert httpx.put(event_url, content=ics, headers=headers, auth=(owner, "owner-secret")).status_code == 201

    # AND the event is stored
    stored = httpx.get(event_url, auth=(owner, "owner-secret"))
    assert stored.status_code == 200
    assert f"UID:{tenant_id}@calsync.test" in stored.text


# -- the Lambda SQS event-source mapping ------------------------------------------------------------


def test_runner_deletes_successes_redelivers_failures_and_dead_letters_after_three_receives(
    stack: LocalStack, tenant_id: str
):
    # GIVEN a queue with a redrive policy of 3 receives and three messages
    pair = stack.create_queue_pair(f"runner-{tenant_id}", f"runner-{tenant_id}-dlq", max_receive_count=3,
                                   visibility_timeout=1)
    sqs = stack.client("sqs")
    for body in ("ok", "fail-once", "fail-always"):
        sqs.send_message(QueueUrl=pair.url, MessageBody=body)
    seen: list[tuple[str, int]] = []

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        failures = []
        for record in event["Records"]:
            receive_count = int(record["attributes"]["ApproximateReceiveCount"])
            seen.append((record["body"], receive_count))
            if record["body"] == "fail-always" or (record["body"] == "fail-once" and receive_count == 1):
                failures.append({"itemIdentifier": record["messageId"]})
        return {"batchItemFailures": failures}

    # WHEN the runner drains the queue
    result = SqsEventSource(sqs, pair.url, handler).drain()

    # THEN each failure was redelivered; "fail-always" was tried exactly 3 times
    assert sorted(seen) == [
        ("fail-always", 1),
        ("fail-always", 2),
        ("fail-always", 3),
        ("fail-once", 1),
        ("fail-once", 2),
        ("ok", 1),
    ]
    assert (result.succeeded, result.failed) == (2, 4)

    # AND the queue is empty, and the dead-letter queue holds "fail-always" only
    counts = sqs.get_queue_attributes(
        QueueUrl=pair.url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    assert counts == {"ApproximateNumberOfMessages": "0", "ApproximateNumberOfMessagesNotVisible": "0"}
    dead = sqs.receive_message(QueueUrl=pair.dlq_url, MaxNumberOfMessages=10).get("Messages", [])
    assert [message["Body"] for message in dead] == ["fail-always"]


def test_runner_hands_powertools_the_lambda_event_shape_and_a_lambda_context(stack: LocalStack, tenant_id: str):
    # GIVEN a message with a string and a binary attribute
    pair = stack.create_queue_pair(f"shape-{tenant_id}", f"shape-{tenant_id}-dlq")
    sqs = stack.client("sqs")
    body = json.dumps({"tenant_id": tenant_id})
    sqs.send_message(
        QueueUrl=pair.url,
        MessageBody=body,
        MessageAttributes={
            "tenant": {"DataType": "String", "StringValue": tenant_id},
            "blob": {"DataType": "Binary", "BinaryValue": b"\x00\x01"},
        },
    )
    events: list[dict[str, Any]] = []
    contexts: list[Any] = []
    processor = BatchProcessor(event_type=EventType.SQS)

    def handler(event: dict[str, Any], context: Any) -> Any:
        events.append(event)
        contexts.append(context)
        return process_partial_response(
            event=event, record_handler=lambda record: None, processor=processor, context=context
        )

    # WHEN the runner invokes a Powertools batch handler
    result = SqsEventSource(sqs, pair.url, handler, function_name="on_appointment_change").drain()

    # THEN the event is the Lambda SQS event, field for field
    assert result.succeeded == 1
    SqsModel.model_validate(events[0])
    (record,) = events[0]["Records"]
    assert set(record) == {
        "messageId",
        "receiptHandle",
        "body",
        "attributes",
        "messageAttributes",
        "md5OfBody",
        "md5OfMessageAttributes",
        "eventSource",
        "eventSourceARN",
        "awsRegion",
    }
    assert record["body"] == body
    assert record["md5OfBody"] == hashlib.md5(body.encode(), usedforsecurity=False).hexdigest()
    assert (record["eventSource"], record["eventSourceARN"], record["awsRegion"]) == ("aws:sqs", pair.arn, "us-east-1")
    assert record["messageAttributes"]["tenant"] == {
        "stringValue": tenant_id,
        "stringListValues": [],
        "binaryListValues": [],
        "dataType": "String",
    }
    assert base64.b64decode(record["messageAttributes"]["blob"]["binaryValue"]) == b"\x00\x01"
    assert {"ApproximateReceiveCount", "SentTimestamp", "SenderId", "ApproximateFirstReceiveTimestamp"} <= set(
        record["attributes"]
    )

    # AND the context carries what Powertools' Logger reads
    context = contexts[0]
    assert context.function_name == "on_appointment_change"
    assert context.invoked_function_arn == "arn:aws:lambda:us-east-1:123456789012:function:on_appointment_change"
    assert context.memory_limit_in_mb == 512
    assert uuid.UUID(context.aws_request_id)
    assert context.get_remaining_time_in_millis() > 0


def test_runner_returns_the_whole_batch_when_the_handler_raises(stack: LocalStack, tenant_id: str):
    # GIVEN two messages and a handler that crashes on its first invocation
    pair = stack.create_queue_pair(f"crash-{tenant_id}", f"crash-{tenant_id}-dlq", visibility_timeout=1)
    sqs = stack.client("sqs")
    for body in ("a", "b"):
        sqs.send_message(QueueUrl=pair.url, MessageBody=body)
    invocations: list[list[tuple[str, str]]] = []

    def handler(event: dict[str, Any], context: Any) -> None:
        invocations.append([(r["body"], r["attributes"]["ApproximateReceiveCount"]) for r in event["Records"]])
        if len(invocations) == 1:
            raise RuntimeError("crash")

    # WHEN the runner drains with a batch size that takes both at once
    result = SqsEventSource(sqs, pair.url, handler, batch_size=10).drain()

    # THEN both came back and were delivered a second time
    delivered = sorted(item for batch in invocations for item in batch)
    assert delivered == [("a", "1"), ("a", "2"), ("b", "1"), ("b", "2")]
    assert (result.failed, result.succeeded) == (2, 2)


# -- helpers ----------------------------------------------------------------------------------------


def _listeners(proc_net: str) -> list[tuple[IpAddress, int, int]]:
    """(address, port, socket inode) of every listening TCP socket in the namespace of ``proc_net``."""
    found = []
    for name in ("tcp", "tcp6"):
        path = Path(proc_net) / name
        if not path.exists():
            continue
        for line in path.read_text().splitlines()[1:]:
            fields = line.split()
            local, state, inode = fields[1], fields[3], int(fields[9])
            if state != "0A":  # TCP_LISTEN
                continue
            address_hex, port_hex = local.split(":")
            raw = bytes.fromhex(address_hex)
            # the kernel prints each 32-bit word in host (little-endian) order
            packed = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
            found.append((ipaddress.ip_address(packed), int(port_hex, 16), inode))
    return found


def _non_loopback_addresses() -> list[IpAddress]:
    output = subprocess.run(["ip", "-j", "addr", "show"], check=True, capture_output=True, text=True).stdout
    addresses = []
    for interface in json.loads(output):
        for info in interface.get("addr_info", []):
            address = ipaddress.ip_address(info["local"])
            if not address.is_loopback and not address.is_link_local:
                addresses.append(address)
    return addresses


def _take_tenant_messages(stack: LocalStack, queue_url: str, tenant_id: str) -> list[dict[str, Any]]:
    """Receives until the queue is empty; keeps (and deletes) this tenant's messages, releases the rest."""
    sqs = stack.client("sqs")
    ours: list[dict[str, Any]] = []
    others: list[str] = []
    while messages := sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", []):
        for message in messages:
            body = json.loads(message["Body"])
            if body.get("detail", {}).get("tenant_id") == tenant_id:
                ours.append(body)
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
            else:
                others.append(message["ReceiptHandle"])
    for handle in others:
        sqs.change_message_visibility(QueueUrl=queue_url, ReceiptHandle=handle, VisibilityTimeout=0)
    return ours


def _vevent(uid: str) -> str:
    return "\r\n".join(
        [
            "BEGIN:VCALENDAR",
            "VERSION:2.0",
            "PRODID:-//calsync//tests//EN",
            "BEGIN:VEVENT",
            f"UID:{uid}",
            "DTSTAMP:20261121T120000Z",
            "DTSTART:20261124T143000Z",
            "DTEND:20261124T152000Z",
            "SUMMARY:Busy",
            "END:VEVENT",
            "END:VCALENDAR",
            "",
        ]
    )
