"""No patient detail and no credential in any log line, at INFO and at DEBUG.

At DEBUG the libraries underneath would log whole requests and responses: botocore the Secrets Manager
answers (refresh tokens, client secrets, CalDAV passwords, msal's token cache) and the SQS message of a
dead-lettered event (patient names and notes), httpx and pynamodb URLs and items. The functions run at
whatever ``LogLevel`` the vendor deploys, so the scan runs at both levels, over everything that reaches
the root logger (what Lambda ships to CloudWatch) and calsync's own JSON lines.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from calsync.core.observability import QUIET_LIBRARIES, logger
from calsync.domain.model import PrivacySettings
from calsync.services import feeds
from devstack import sample_day
from devstack.clinicians import connect_caldav
from devstack.deployment import Deployment
from devstack.oauth_clinicians import CLIENT_SECRET, connect_google, connect_microsoft
from devstack.sims.google import GoogleCalendarSimulator
from devstack.sims.microsoft import MicrosoftGraphSimulator
from devstack.stack import LocalStack, StackResources
from tests.support.feeds import fetch
from tests.support.pipeline import dead_letters, deliver

DETAILED = PrivacySettings(client_display="full_name", show_visit_type=True, show_notes=True)


@contextmanager
def everything_logged(level: int) -> Iterator[io.StringIO]:
    """Every line the process logs at ``level``: the root logger (Lambda's handler) and calsync's own."""
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    root = logging.getLogger()
    previous_level, previous_powertools = root.level, logger.log_level
    root.addHandler(handler)
    root.setLevel(level)
    logger.setLevel(level)
    stream = logger.registered_handler.setStream(buffer)  # type: ignore[attr-defined]
    try:
        yield buffer
    finally:
        logger.registered_handler.setStream(stream)  # type: ignore[attr-defined]
        logger.setLevel(previous_powertools)
        root.removeHandler(handler)
        root.setLevel(previous_level)


@pytest.mark.parametrize("level", [logging.INFO, logging.DEBUG], ids=["INFO", "DEBUG"])
def test_no_patient_detail_and_no_credential_reaches_a_log_line(
        level: int, deployment: Deployment, stack: LocalStack, stack_resources: StackResources, tenant_id: str,
        google_sim: GoogleCalendarSimulator, microsoft_sim: MicrosoftGraphSimulator) -> None:
    caldav = [connect_caldav(stack, tenant_id=tenant_id, practitioner_id=p, privacy=DETAILED)
              for p in (sample_day.OKAFOR, sample_day.LINDQVIST)]
    google = connect_google(stack, google_sim, tenant_id=tenant_id, practitioner_id=sample_day.OKAFOR,
                            privacy=DETAILED)
    graph = connect_microsoft(stack, microsoft_sim, tenant_id=tenant_id, practitioner_id=sample_day.LINDQVIST,
                              privacy=DETAILED)
    _, issued = feeds.create_feed(tenant_id, sample_day.LINDQVIST, privacy=DETAILED, backfill=False)

    with everything_logged(level) as logs:
        deliver(stack, stack_resources, sample_day.changes(tenant_id))  # tokens refreshed, a poison event
        assert fetch(deployment.api, issued.token).status == 200
    text = logs.getvalue()

    assert text.count("\n") > 10  # the handlers did log
    assert [d for d in dead_letters(stack, stack_resources) if d["body"]["detail"]["tenant_id"] == tenant_id]
    assert len(google.calendar()) > 0 and len(graph.calendar()) > 0  # the calendars show the details...
    patient = [*(c[k] for c in sample_day.CLIENTS.values() for k in ("first_name", "last_name")),
               *sample_day.NOTES.values(), "Therapy session", "Prenatal visit", "Medication review"]
    assert [word for word in patient if word in text] == []  # ...the logs none of them
    credentials = [CLIENT_SECRET, issued.token, *(c.password for c in caldav),
                   *google_sim.issued_refresh_tokens(google.user), *microsoft_sim.issued_refresh_tokens(graph.user)]
    assert [secret for secret in credentials if secret in text] == []
    assert google_sim.tokens_in(text, live_only=False) == [] and microsoft_sim.tokens_in(text, live_only=False) == []
    for name in QUIET_LIBRARIES:  # held back whatever the function's level
        assert logging.getLogger(name).getEffectiveLevel() >= logging.WARNING
