"""The pull worker's queue as deployed: a message that is not a pull job goes to the pull dead-letter queue
with its reason, and the rest of its batch is pulled."""

from __future__ import annotations

from calsync.core.settings import get_settings
from devstack.deployment import Deployment
from devstack.sims.google import GoogleCalendarSimulator
from tests.support.twoway import PULL_WORKER, settle, start, two_way_google


def test_a_malformed_pull_job_is_dead_lettered_with_its_reason_and_the_batch_goes_on(
        deployment: Deployment, google_sim: GoogleCalendarSimulator, tenant_id: str) -> None:
    clinician = two_way_google(deployment.stack, google_sim, tenant_id)
    start(clinician.integration.integration_id)  # a genuine job in the same batch
    settings = get_settings()
    assert settings.pull_queue_url and settings.pull_dead_letter_queue_url
    sqs = deployment.stack.client("sqs")
    sqs.send_message(QueueUrl=settings.pull_queue_url, MessageBody='{"integration": "no id here"}')
    drained = deployment.drain(PULL_WORKER)
    assert drained.failed == 0 and drained.received >= 2
    settle(deployment, google_sim)
    (parked,) = sqs.receive_message(QueueUrl=settings.pull_dead_letter_queue_url, MaxNumberOfMessages=10,
                                    MessageAttributeNames=["All"])["Messages"]
    assert parked["Body"] == '{"integration": "no id here"}'
    assert parked["MessageAttributes"]["calsync_reason"]["StringValue"].startswith("not a pull job")
    assert google_sim.watch_channels(clinician.user) != []  # the genuine job was pulled
