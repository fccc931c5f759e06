"""The start-up sheet of ``make serve``: every URL and credential of the running deployment, and the
commands to try it (send a change, fetch a feed, run the retry sweeper now, switch a provider fault on).

Every line is ``label: value`` or a command on its own line under a heading ending in ``:``, so a person
can copy from it and a test can read it.
"""

from __future__ import annotations

import datetime as dt
import json
import shlex
import shutil
from collections.abc import Sequence
from typing import Any

from devstack import sample_day
from devstack.cfn_template import ROOT
from devstack.deployment import Deployment
from devstack.platform_sources import SAMPLE_STAFF, ConnectedSource
from devstack.samples import Newcomer, SampleClinician
from devstack.stack import FAKE_CREDENTIAL, REGION

SEND_A_CHANGE = "send a change (an appointment for dr-okafor tomorrow):"
FETCH_A_FEED = "fetch a feed:"
RUN_THE_SWEEPER = "run the retry sweeper now:"
SWITCH_A_FAULT = "switch a provider fault on (the next Google Calendar write answers 503; the sweeper retries it):"
CONNECT_A_CALENDAR = "connect a calendar: open this link in a browser (single use, 15 minutes):"
ANOTHER_CONNECT_LINK = "another connect link (the EHR's backend calls the integration API, SigV4-signed):"


def aws_cli() -> str:
    """The ``aws`` command of the project's AWS CLI venv (``make install``: requirements-awscli.txt), else the
    one on PATH."""
    ours = ROOT / ".venv-awscli" / "bin" / "aws"
    return str(ours) if ours.exists() else (shutil.which("aws") or "aws")


def calsync_cli() -> str:
    """The ``calsync`` command of the project's venv (``make install`` installs it), else the one on PATH."""
    ours = ROOT / ".venv" / "bin" / "calsync"
    return str(ours) if ours.exists() else (shutil.which("calsync") or "calsync")


def aws(*arguments: str, endpoint: str) -> str:
    credentials = (f"AWS_ACCESS_KEY_ID={FAKE_CREDENTIAL} AWS_SECRET_ACCESS_KEY={FAKE_CREDENTIAL} "
                   f"AWS_DEFAULT_REGION={REGION}")
    return f"{credentials} {shlex.quote(aws_cli())} --endpoint-url {endpoint} " + " ".join(arguments)


def sample_change(now: dt.datetime | None = None, appointment_id: str = "apt-1") -> dict[str, Any]:
    """A valid ``Appointment Changed`` detail for Dr Okafor, tomorrow at 15:00 New York time (no patient data)."""
    now = now or dt.datetime.now(dt.UTC)
    start = dt.datetime.combine((now.astimezone(sample_day.ZONE) + dt.timedelta(days=1)).date(), dt.time(15),
                                sample_day.ZONE)
    return {
        "schema_version": 1, "tenant_id": sample_day.TENANT, "appointment_id": appointment_id,
        "updated_at": now.isoformat(timespec="seconds"), "version": 1, "status": "scheduled",
        "start": start.isoformat(), "end": (start + dt.timedelta(minutes=50)).isoformat(),
        "timezone": str(sample_day.ZONE), "practitioner_id": sample_day.OKAFOR, "practice": sample_day.PRACTICE,
        "client": {"id": "cl-1", "internal_id": "A-1001"},
    }


def platform_lines(deployment: Deployment, platforms: Sequence[ConnectedSource]) -> list[str]:
    """Each booking platform's webhook URL and signing secret (secret-URL platforms: the URL is the secret)."""
    if not platforms or deployment.platforms is None:
        return []
    lines = ["", f"booking platforms (tenant {platforms[0].tenant_id}; staff id {SAMPLE_STAFF!r} on every platform is "
             f"{sample_day.OKAFOR}; how each one signs: docs/booking-platforms.md):",
             f"  platform API simulator: {deployment.platforms.url}   console: "
             f"{deployment.console.simulator_url('platforms')}/requests"]
    for source in platforms:
        credential = (f"signing secret: {source.signing_secret}" if source.path_secret is None
                      else "(a secret URL: the URL itself is the credential)")
        lines.append(f"  {source.platform} webhook: {deployment.api.base_url}{source.path}   {credential}")
    return lines


def render(deployment: Deployment, clinicians: Sequence[SampleClinician], newcomer: Newcomer | None = None,
           platforms: Sequence[ConnectedSource] = ()) -> str:
    plan = deployment.blueprint
    ports = deployment.stack.ports
    resources = deployment.stack.resources
    api, console = deployment.api.base_url, deployment.console.base_url
    changes = deployment.stack.resources.changes
    queue = plan.queue_consumed_by("OnAppointmentChangeFunction")
    lines = ["", "calsync is running locally: every function of template.yaml, wired and routed from it.", ""]
    lines.append(f"local HTTP API: {api}   (API Gateway HTTP API, payload 2.0; routes from template.yaml)")
    for route in plan.routes:
        auth = " (AWS_IAM: SigV4-signed, see below)" if route.authorizer == "AWS_IAM" else ""
        lines.append(f"  route: {route.route_key:<28} -> {deployment.functions[route.function].name}{auth}")
    lines.append(f"console: {console}   (Lambda Invoke API for every function; simulator consoles)")
    for mapping in plan.mappings:
        lines.append(f"queue worker: {deployment.functions[mapping.function].name} on {changes.url} "
                     f"(batch {mapping.batch_size}; visibility timeout {queue.visibility_timeout} s; dead-letter "
                     f"queue {changes.dlq_url} after {queue.max_receive_count} receives)")
    for spec in plan.schedules:
        schedule = deployment.schedules.get(spec.function)
        every = f"every {schedule.period_seconds:g} s" if schedule else "not run"
        lines.append(f"schedule: {deployment.functions[spec.function].name} {every} (template: {spec.expression})")
    lines += ["", "not emulated locally:", *(f"  - {note}" for note in plan.unsupported), ""]
    lines += [
        f"DynamoDB Local: {ports.dynamodb_endpoint}   (its JVM sits in a private network namespace; forwarded here)",
        f"moto server: {ports.moto_endpoint}   (EventBridge, SQS, Secrets Manager, CloudWatch, S3; "
        f"UI {ports.moto_endpoint}/moto-api/)",
        f"Radicale (CalDAV): {ports.radicale_url}",
    ]
    if deployment.google is not None:
        lines.append(f"Google Calendar simulator: {deployment.google.url}   console: {console}/simulators/google")
    if deployment.microsoft is not None:
        lines.append(f"Microsoft Graph simulator: {deployment.microsoft.url}   console: {console}/simulators/microsoft"
                     f"   (its CA: {deployment.microsoft.ca_bundle})")
    lines += [
        f"simulator webhooks go to: {api}/webhooks/<provider>",
        f"dashboard figures: {deployment.console.figures_url}   (the CloudWatch dashboard's widgets, computed from "
        "the local functions' logs; refreshes itself)",
        f"operator CLI: {shlex.quote(calsync_cli())} --env-file {deployment.operator_env_file()} status   (then "
        "ledger, resync, dlq, logs, audit ...; --help lists them)",
        f"AWS credentials: AWS_ACCESS_KEY_ID={FAKE_CREDENTIAL} AWS_SECRET_ACCESS_KEY={FAKE_CREDENTIAL} "
        f"AWS_REGION={REGION}",
        f"event bus: {resources.event_bus_name}   rule: {json.dumps(plan.rules[0].event_pattern)}",
        "tables: " + ", ".join(plan.tables.values()),
        "",
    ]
    for clinician in clinicians:
        caldav = clinician.caldav
        lines += [f"clinician {clinician.practitioner_id} (tenant {caldav.integration.tenant_id}):",
                  f"  Radicale account: {caldav.username} / {caldav.password}",
                  f"  CalDAV calendar: {caldav.calendar_url}"]
        if clinician.google is not None:
            lines.append(f"  Google calendar: {console}/simulators/google/events?calendar={clinician.google.user}")
        if clinician.microsoft is not None:
            lines.append(f"  Microsoft calendar: {console}/simulators/microsoft/events?user={clinician.microsoft.user}"
                         f"&calendar={clinician.microsoft.integration.calendar_id}")
        lines.append(f"  ICS feed: {clinician.feed_url}")
    lines += platform_lines(deployment, platforms)
    identity = deployment.identity(sample_day.TENANT)
    lines += [
        "",
        "AWS_IAM routes take SigV4 (service execute-api, region us-east-1) signed with a tenant's local identity:",
        f"  tenant {identity.tenant_id}: access key {identity.access_key_id} secret {identity.secret_access_key}"
        f"   (caller {identity.user_arn})",
        f"  e.g. curl --aws-sigv4 aws:amz:{REGION}:execute-api --user "
        f"{identity.access_key_id}:{identity.secret_access_key} {api}/<route>",
        "",
        SEND_A_CHANGE,
        "  " + aws("events", "put-events", "--entries", shlex.quote(json.dumps([{
            "EventBusName": resources.event_bus_name, "Source": sample_day.SOURCE,
            "DetailType": "Appointment Changed", "Detail": json.dumps(sample_change())}])),
            endpoint=ports.moto_endpoint),
        FETCH_A_FEED,
        f"  curl -sS {clinicians[0].feed_url}" if clinicians else "  (no feed)",
        RUN_THE_SWEEPER,
        "  " + aws("lambda", "invoke", "--function-name", deployment.functions["RetrySweeperFunction"].name,
                   "/dev/stdout", endpoint=console),
        SWITCH_A_FAULT,
        f"  curl -sS -X POST {console}/simulators/google/faults -d "
        + shlex.quote(json.dumps({"status": 503, "method": "POST", "path_contains": "/events", "times": 1})),
    ]
    if newcomer is not None:
        lines += _connect(deployment, newcomer, identity.access_key_id, identity.secret_access_key)
    lines += ["", "Ctrl-C (or SIGTERM) stops everything: servers, workers, temp folders."]
    return "\n".join(lines)


def _connect(deployment: Deployment, newcomer: Newcomer, key: str, secret: str) -> list[str]:
    """The connect page, for a person to try: the link, the accounts to sign in with, another link."""
    api = deployment.api.base_url
    body = json.dumps({"practitioner_id": newcomer.practitioner_id})
    lines = ["", f"clinician {newcomer.practitioner_id} (not connected yet):"]
    if newcomer.google_user:
        lines.append(f"  Google account (the simulator's consent page): {newcomer.google_user}")
    if newcomer.microsoft_user:
        lines.append(f"  Microsoft account: {newcomer.microsoft_user}   (its consent page uses the simulator's CA: "
                     "accept the browser's certificate warning)")
    lines += [f"  iCloud (Radicale stands in for it): Apple ID {newcomer.icloud_username} / app-specific password "
              f"{newcomer.icloud_password}",
              CONNECT_A_CALENDAR, f"  {newcomer.connect_url}",
              ANOTHER_CONNECT_LINK,
              f"  curl -sS --aws-sigv4 aws:amz:{REGION}:execute-api --user {key}:{secret} "
              f"-H 'Content-Type: application/json' -d {shlex.quote(body)} {api}/api/v1/connect-links"]
    return lines
