"""The two-way handlers on the sample events of ``events/`` (what API Gateway and SQS hand them), on the paths
that need no AWS service: Graph's handshake, a route no router knows, bad availability questions, a
malformed pull job sent to the dead-letter queue."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from calsync.aws import dead_letter
from calsync.services.twoway import pull
from devstack.lambda_runner import FakeLambdaContext
from functions.availability import app as availability_app
from functions.on_pull import app as pull_app
from functions.on_webhook import app as webhook_app

EVENTS = Path(__file__).resolve().parents[2] / "events"


def sample(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((EVENTS / name).read_text(encoding="utf-8"))
    return loaded


def context(name: str) -> FakeLambdaContext:
    return FakeLambdaContext(function_name=name, memory_limit_in_mb=256, timeout_seconds=10,
                             invoked_function_arn=f"arn:aws:lambda:us-east-1:123456789012:function:{name}")


def test_graphs_handshake_is_echoed_as_plain_text_decoded_once():
    answer = webhook_app.lambda_handler(sample("on_webhook-microsoft-validation.json"), context("webhook"))
    assert answer["statusCode"] == 200
    assert answer["headers"]["Content-Type"].startswith("text/plain")
    assert answer["body"] == ("Validation: Testing client application reachability for subscription "
                              "Request-Id: 25b8f3c1")


def test_a_webhook_path_no_router_knows_is_a_404_not_a_fake_200():
    event = sample("on_webhook-google-push.json")
    event["rawPath"] = event["requestContext"]["http"]["path"] = "/webhooks/somebody"
    answer = webhook_app.lambda_handler(event, context("webhook"))
    assert answer["statusCode"] == 404


@pytest.mark.parametrize(("query", "message"), [
    ({"start": "yesterday", "end": "2026-11-25T00:00:00Z"}, "RFC 3339"),
    ({"start": "2026-11-24T00:00:00", "end": "2026-11-25T00:00:00"}, "offset"),
    ({"start": "2026-11-25T00:00:00Z", "end": "2026-11-24T00:00:00Z"}, "positive"),
    ({"start": "2026-11-01T00:00:00Z", "end": "2027-03-01T00:00:00Z"}, "62 days"),
])
def test_bad_availability_questions_get_400_naming_the_problem(query, message):
    event = {**sample("availability-get.json"), "queryStringParameters": query}
    answer = availability_app.lambda_handler(event, context("availability"))
    assert answer["statusCode"] == 400 and message in json.loads(answer["body"])["error"]


def test_a_malformed_pull_job_goes_to_the_dead_letter_queue_and_does_not_fail_the_batch(monkeypatch):
    parked: list[tuple[str, str, str | None]] = []
    pulled: list[str] = []
    monkeypatch.setattr(dead_letter, "send",
                        lambda body, reason, message_id, queue_url=None: parked.append((body, reason, message_id)))
    monkeypatch.setattr(pull, "pull", lambda integration_id: pulled.append(integration_id))
    answer = pull_app.lambda_handler(sample("on_pull-sqs-batch.json"), context("pull"))
    assert answer == {"batchItemFailures": []}
    assert pulled == ["int-northside-health-dr-okafor-google"]
    assert [(body, message_id) for body, _, message_id in parked] == [
        ("not a pull job", "5b1f0d6e-3c2a-4f7e-8a90-1d2e3f4a5b02")]
    assert "integration_id" in parked[0][1]
