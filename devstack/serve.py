"""``make serve``: start the local stack, print how to reach it, and run the change handler until Ctrl-C.

Fixed ports when they are free (DynamoDB Local 8000, moto 5055, Radicale 5232), so bookmarks and
shell history keep working; any that is busy is replaced by a free one, and the printed URLs say which.
While it runs, the SQS queue ``calsync-changes`` is fed to ``on_appointment_change`` the way Lambda's
event-source mapping would (``devstack.lambda_runner``), so ``aws events put-events`` on the bus ends
up in the Radicale calendars.
"""

from __future__ import annotations

import datetime as dt
import importlib
import json
import logging
import shlex
import signal
import sys
import time
from types import FrameType
from typing import Any

from devstack import DevstackError
from devstack.lambda_runner import Handler, SqsEventSource
from devstack.stack import EVENT_BUS_NAME, FAKE_CREDENTIAL, REGION, LocalStack, StackPorts

PREFERRED_PORTS = StackPorts(dynamodb=8000, moto=5055, radicale=5232)
DEMO_USER = ("demo", "demo-local-password")
DEMO_CALENDAR = "calendar"
HANDLER_PATH = "functions.on_appointment_change.app:lambda_handler"
_POLL_WAIT_SECONDS = 1


def seed_sample_clinicians(stack: LocalStack) -> None:
    """Connects the demo's two clinicians to Radicale calendars (accounts ``okafor`` and ``lindqvist``).

    Called after ``create_resources()``, with the stack's env in ``os.environ`` (calsync is imported here,
    not at the top, because it reads its settings on import).
    """
    from devstack import sample_day
    from devstack.clinicians import connect_caldav

    for practitioner, username in ((sample_day.OKAFOR, "okafor"), (sample_day.LINDQVIST, "lindqvist")):
        clinician = connect_caldav(stack, tenant_id=sample_day.TENANT, practitioner_id=practitioner,
                                   privacy=sample_day.PRIVACY[practitioner], username=username)
        _say(f"clinician {practitioner} ({sample_day.TENANT}) -> {clinician.calendar_url}")


def main() -> int:
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    logging.getLogger("devstack").setLevel(logging.INFO)
    signal.signal(signal.SIGTERM, _exit_on_signal)
    ports = StackPorts.pick(PREFERRED_PORTS.dynamodb, PREFERRED_PORTS.moto, PREFERRED_PORTS.radicale)
    _say("starting DynamoDB Local (private network namespace), moto server and Radicale ...")
    try:
        with LocalStack(ports=ports) as stack:
            stack.create_resources()  # also puts the stack's env into os.environ
            seed_sample_clinicians(stack)
            if not stack.radicale.users:
                stack.radicale.add_user(*DEMO_USER)
                stack.radicale.make_calendar(DEMO_USER[0], DEMO_CALENDAR, "Demo calendar")
            _print_guide(stack, ports)
            _serve_with_platforms(stack)
    except KeyboardInterrupt:
        _say("\nstopped; every server is down and the temp folder removed")
    except DevstackError as error:
        _say(f"local stack failed: {error}")
        return 1
    return 0


def _serve_with_platforms(stack: LocalStack) -> None:
    """Booking-platform webhooks and their API simulator beside the stack (calsync imported late, as above)."""
    from devstack import sample_day
    from devstack.platform_sources import serve_platforms

    with serve_platforms(stack, sample_day.TENANT, sample_day.OKAFOR) as lines:
        _say("\n".join(lines))
        _serve(stack)


def _serve(stack: LocalStack) -> None:
    """Feeds the changes queue to the handler until interrupted; without a handler, just keeps serving."""
    handler = _load_handler()
    source = SqsEventSource(stack.client("sqs"), stack.resources.changes.url, handler) if handler else None
    while True:
        stack.check_alive()
        if source is None:
            time.sleep(_POLL_WAIT_SECONDS)
            continue
        outcome = source.poll_once(wait_seconds=_POLL_WAIT_SECONDS)
        if outcome.received:
            _say(f"on_appointment_change: {len(outcome.succeeded)} done, {len(outcome.failed)} to retry")


def _load_handler() -> Handler | None:
    """Imports the handler late (after the env is set); a broken import is reported, not fatal."""
    module_name, _, attribute = HANDLER_PATH.partition(":")
    try:
        module = importlib.import_module(module_name)
        handler: Handler = getattr(module, attribute)
    except Exception as error:
        _say(f"not running {HANDLER_PATH}: {type(error).__name__}: {error}")
        _say("the stack keeps serving; events stay in the queue until a handler drains them")
        return None
    _say(f"running {HANDLER_PATH} on queue calsync-changes (Ctrl-C to stop)")
    return handler


def _print_guide(stack: LocalStack, ports: StackPorts) -> None:
    env = stack.env()
    resources = stack.resources
    names = ("dynamodb", "moto", "radicale")
    moved = [name for name in names if getattr(ports, name) != getattr(PREFERRED_PORTS, name)]
    user, password = next(iter(stack.radicale.users.items()))
    lines = [
        "",
        f"DynamoDB Local   {ports.dynamodb_endpoint}   (the JVM sits in its own network namespace; forwarded here)",
        f"moto server      {ports.moto_endpoint}   (Secrets Manager, EventBridge, SQS, CloudWatch; UI at /moto-api/)",
        f"Radicale         {ports.radicale_url}",
        *([f"(busy preferred ports replaced: {', '.join(moved)})"] if moved else []),
        "",
        f"AWS credentials  AWS_ACCESS_KEY_ID={FAKE_CREDENTIAL} AWS_SECRET_ACCESS_KEY={FAKE_CREDENTIAL} "
        f"AWS_REGION={REGION}",
        f"event bus        {resources.event_bus_name}  rule: Appointment Changed from ehr.*",
        f"queue            {resources.changes.url}",
        f"dead letters     {resources.changes.dlq_url}  (after 3 receives)",
        "tables           " + ", ".join(env[key] for key in sorted(env) if key.endswith("_TABLE")),
        "",
        "Radicale users:",
        *(f"  {name} / {secret}" for name, secret in stack.radicale.users.items()),
        "",
        "calsync environment (paste into a shell):",
        "  export " + " ".join(f"{key}={shlex.quote(value)}" for key, value in sorted(env.items())),
        "",
        "send a change:",
        "  " + _put_events_example(ports),
        "",
        "see a calendar:",
        f"  curl -u {shlex.quote(f'{user}:{password}')} -X PROPFIND -H 'Depth: 1' {ports.radicale_url}/{user}/",
        f"  curl -u {shlex.quote(f'{user}:{password}')} {ports.radicale_url}/{user}/<calendar>/   "
        "(a calendar href from the PROPFIND answer: GET returns the whole calendar as iCalendar)",
        "",
    ]
    _say("\n".join(lines))


def _put_events_example(ports: StackPorts) -> str:
    """An ``aws events put-events`` line with a valid ``Appointment Changed`` detail (no patient data)."""
    start = (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).replace(hour=15, minute=0, second=0, microsecond=0)
    detail: dict[str, Any] = {
        "schema_version": 1,
        "tenant_id": "northside-health",
        "appointment_id": "apt-1",
        "updated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "version": 1,
        "status": "scheduled",
        "start": start.isoformat(),
        "end": (start + dt.timedelta(minutes=50)).isoformat(),
        "timezone": "America/New_York",
        "practitioner_id": "dr-okafor",
        "practice": {"id": "main-street"},
    }
    entry = {
        "EventBusName": EVENT_BUS_NAME,
        "Source": "ehr.example",
        "DetailType": "Appointment Changed",
        "Detail": json.dumps(detail),
    }
    return (
        f"AWS_ACCESS_KEY_ID={FAKE_CREDENTIAL} AWS_SECRET_ACCESS_KEY={FAKE_CREDENTIAL} aws --region {REGION} "
        f"--endpoint-url {ports.moto_endpoint} events put-events --entries {shlex.quote(json.dumps([entry]))}"
    )


def _exit_on_signal(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _say(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    raise SystemExit(main())
