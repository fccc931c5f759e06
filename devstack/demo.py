"""``make demo``: the local stack, two clinicians on CalDAV calendars (and the same two on the Google
Calendar and Microsoft Graph simulators, two-way, and one clinician's private ICS feed), a realistic day of
EHR changes sent through the real path (EventBridge bus → rule → SQS → on_appointment_change), then what
each calendar holds — read back from Radicale itself — and what landed in the dead-letter queue. Then the
other direction (``devstack.two_way_demo``): a personal appointment in Google comes back to the EHR as busy
time and a conflict, and a calsync event dragged in Outlook is put back.

Exits 0 only when every calendar holds exactly the expected events, the malformed event is in the
dead-letter queue with its reason, and the two-way scene went as it should.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx

from devstack.calendar_reader import SeenEvent, parse_calendar, read_calendar
from devstack.deployment import Deployment, DeploymentPorts
from devstack.stack import LocalStack, apply_env, stack_env

if TYPE_CHECKING:
    from devstack.clinicians import CalDavClinician

# calsync reads its settings when first imported: the stack's environment must be in place before.
PORTS = DeploymentPorts.pick()
apply_env(stack_env(PORTS.stack))

from calsync.domain.model import Direction, Integration  # noqa: E402
from calsync.services.feeds import create_feed  # noqa: E402
from devstack import sample_day, two_way_demo  # noqa: E402
from devstack.clinicians import connect_caldav  # noqa: E402
from devstack.oauth_clinicians import OAuthClinician, connect_google, connect_microsoft  # noqa: E402

GREEN, RED, DIM, BOLD, RESET = "\033[32m", "\033[31m", "\033[2m", "\033[1m", "\033[0m"


def say(text: str = "") -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def send_day(stack: LocalStack, bus_name: str) -> int:
    events = stack.client("events")
    entries = sample_day.changes()
    for start in range(0, len(entries), 10):
        batch = [{**entry, "EventBusName": bus_name} for entry in entries[start:start + 10]]
        response = events.put_events(Entries=batch)  # type: ignore[arg-type]
        if response["FailedEntryCount"]:
            raise RuntimeError(f"PutEvents rejected {response['FailedEntryCount']} entries")
    return len(entries)


@dataclass(frozen=True)
class FeedSubscriber:
    """A calendar app subscribed to a clinician's private ICS feed, served by the real feed handler."""

    integration: Integration
    url: str

    def calendar(self) -> list[SeenEvent]:
        response = httpx.get(self.url, headers={"Accept-Encoding": "gzip"}, timeout=10)
        response.raise_for_status()
        return parse_calendar(self.url, response.text)


def show_calendar(name: str, clinician: CalDavClinician | OAuthClinician | FeedSubscriber) -> bool:
    """Prints what the calendar holds, read from the calendar server itself, marked against the
    hand-written expectations of the sample day; True when they match exactly."""
    seen: Sequence[Any]
    if isinstance(clinician, OAuthClinician):
        seen, where = clinician.calendar(), clinician.label
    elif isinstance(clinician, FeedSubscriber):
        seen, where = clinician.calendar(), clinician.url.split("/feeds/")[0] + "/feeds/<token>.ics"
    else:
        seen = read_calendar(clinician.calendar_url, clinician.username, clinician.password)
        where = clinician.calendar_url
    expected = sample_day.expected_calendars()[clinician.integration.practitioner_id]
    actual = {sample_day.Expected(*event.local_times(sample_day.ZONE), event.summary) for event in seen}
    ok = actual == expected and len(seen) == len(expected) and all(e.attendees == 0 for e in seen)
    say(f"\n{BOLD}{name}{RESET}  {DIM}{where}{RESET}")
    for start, end, event in sorted(((*e.local_times(sample_day.ZONE), e) for e in seen), key=lambda t: t[:2]):
        mark = f"{GREEN}✓{RESET}" if sample_day.Expected(start, end, event.summary) in expected else f"{RED}✗{RESET}"
        say(f"  {mark} {start:>10} – {end:<10} {event.summary}")
        if event.location:
            say(f"      {DIM}{event.location}{RESET}")
    for missing in sorted(expected - actual, key=lambda e: e.start):
        say(f"  {RED}missing{RESET} {missing.start} – {missing.end} {missing.summary}")
    return ok


def show_dead_letters(stack: LocalStack, dlq_url: str) -> bool:
    sqs = stack.client("sqs")
    messages: list[dict[str, Any]] = []
    for _ in range(3):
        got = sqs.receive_message(QueueUrl=dlq_url, MaxNumberOfMessages=10,
                                  MessageAttributeNames=["All"], WaitTimeSeconds=0).get("Messages", [])
        messages += got  # type: ignore[arg-type]
        if not got:
            break
    say(f"\n{BOLD}Dead-letter queue{RESET}  {DIM}{dlq_url}{RESET}")
    found = False
    for message in messages:
        detail = json.loads(message["Body"]).get("detail", {})
        reason = message.get("MessageAttributes", {}).get("calsync_reason", {}).get("StringValue", "?")
        say(f"  appointment {detail.get('appointment_id')}: {reason}")
        found |= detail.get("appointment_id") == sample_day.MALFORMED_APPOINTMENT and "timezone" in reason
    if not messages:
        say("  (empty)")
    return found and len(messages) == 1


def main() -> int:
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("calsync").propagate = False  # its JSON lines are captured, not echoed
    started = time.monotonic()
    say(f"{BOLD}calsync demo{RESET}: starting DynamoDB Local (private network namespace), moto server, Radicale ...")
    logs = io.StringIO()
    capture = _Capture(logs)
    # the same deployment as make serve and the tests; the demo drives the change queue itself
    deployment = Deployment(PORTS, wrapper=lambda _, handler: _quiet(handler, capture))
    with deployment.start(workers=False):
        stack, google, graph = deployment.stack, deployment.google, deployment.microsoft
        assert google is not None and graph is not None
        resources = stack.resources
        say(f"  deployment ready (stack in {stack.startup_seconds:.1f} s); Google Calendar simulator "
            f"{google.api_base}, Microsoft Graph simulator {graph.api_base}, HTTP API {deployment.api.base_url}")

        tenant = sample_day.TENANT
        feed, issued = create_feed(tenant, sample_day.LINDQVIST, privacy=sample_day.PRIVACY[sample_day.LINDQVIST],
                                   base_url=deployment.api.base_url)
        assert issued.url is not None
        okafor_google = connect_google(stack, google, tenant_id=tenant, practitioner_id=sample_day.OKAFOR,
                                       privacy=sample_day.PRIVACY[sample_day.OKAFOR], direction=Direction.TWO_WAY)
        lindqvist_graph = connect_microsoft(stack, graph, tenant_id=tenant, practitioner_id=sample_day.LINDQVIST,
                                            privacy=sample_day.PRIVACY[sample_day.LINDQVIST],
                                            direction=Direction.TWO_WAY)
        with capture.active():
            two_way_demo.start_watching(deployment, okafor_google, lindqvist_graph)
        clinicians: dict[str, CalDavClinician | OAuthClinician | FeedSubscriber] = {
            "Dr Okafor (CalDAV, initials + visit type)": connect_caldav(
                stack, tenant_id=tenant, practitioner_id=sample_day.OKAFOR,
                privacy=sample_day.PRIVACY[sample_day.OKAFOR], username="okafor"),
            "Dr Lindqvist (CalDAV, internal ID only)": connect_caldav(
                stack, tenant_id=tenant, practitioner_id=sample_day.LINDQVIST,
                privacy=sample_day.PRIVACY[sample_day.LINDQVIST], username="lindqvist"),
            "Dr Okafor (Google Calendar, same settings, two-way)": okafor_google,
            "Dr Lindqvist (Microsoft 365, same settings, two-way)": lindqvist_graph,
            "Dr Lindqvist (private ICS feed in any calendar app)": FeedSubscriber(feed, issued.url),
        }
        sent = send_day(stack, resources.event_bus_name)
        say(f"  sent {sent} EHR changes to bus {resources.event_bus_name} "
            "(creates, reschedules, a cancellation, a reassignment, a duplicate, a stale update, one malformed)")
        drained = deployment.drain()
        say(f"  on_appointment_change: {drained.invocations} invocations, {drained.received} records")
        two_way_demo.settle(deployment)  # calsync's own writes come back as notifications: nothing to import

        results = [show_calendar(name, clinician) for name, clinician in clinicians.items()]
        results.append(show_dead_letters(stack, resources.changes.dlq_url))
        say(f"\n{BOLD}Two-way: the clinicians' own calendars, read back{RESET}")
        results.append(two_way_demo.scene(deployment, tenant, okafor_google, lindqvist_graph, sample_day.ZONE, say,
                                          lambda ok: f"{GREEN}✓{RESET}" if ok else f"{RED}✗{RESET}"))
        leaks = leaked_patient_details(logs.getvalue())
        say(f"\n{len(logs.getvalue().splitlines())} JSON log lines from the handlers; patient details in them: "
            f"{RED + ', '.join(leaks) if leaks else GREEN + 'none'}{RESET}")
        results.append(not leaks)
    ok = all(results)
    say(f"\n{GREEN + 'everything as expected' if ok else RED + 'MISMATCH'}{RESET}  "
        f"({time.monotonic() - started:.1f} s; stack stopped)")
    return 0 if ok else 1


class _Capture:
    """Keeps calsync's JSON log lines (and anything printed) in ``captured`` while at least one handler runs.
    Re-entrant and thread-safe: two-way sync calls a handler while another runs (Graph's validation request
    reaches the webhook while the pull worker starts a subscription), so the first in and the last out switch."""

    def __init__(self, captured: io.StringIO) -> None:
        self.captured = captured
        self._lock = threading.Lock()
        self._depth = 0
        self._saved: tuple[Any, Any] | None = None

    @contextlib.contextmanager
    def active(self) -> Iterator[None]:
        from calsync.core.observability import logger

        with self._lock:
            self._depth += 1
            if self._depth == 1:
                stream = logger.registered_handler.setStream(self.captured)  # type: ignore[attr-defined]
                self._saved = (stream, sys.stdout)
                sys.stdout = self.captured
        try:
            yield
        finally:
            with self._lock:
                self._depth -= 1
                if self._depth == 0 and self._saved is not None:
                    stream, stdout = self._saved
                    logger.registered_handler.setStream(stream)  # type: ignore[attr-defined]
                    sys.stdout = stdout


def _quiet(handler: Any, capture: _Capture) -> Any:
    """Runs the handler with its JSON log lines kept aside, so the demo output stays readable."""

    def run(event: dict[str, Any], context: Any) -> Any:
        with capture.active():
            return handler(event, context)

    return run


def leaked_patient_details(log_text: str) -> list[str]:
    """Client names and notes of the sample day that appear in the captured logs (must be none)."""
    secrets = [value for client in sample_day.CLIENTS.values()
               for value in (client["first_name"], client["last_name"])]
    secrets += list(sample_day.NOTES.values())
    return [secret for secret in secrets if secret in log_text]


if __name__ == "__main__":
    raise SystemExit(main())
