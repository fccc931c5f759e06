"""A real sync client subscribes to the feed: vdirsyncer (``http`` storage → ``filesystem`` storage)
downloads ``http://127.0.0.1:<port>/feeds/<token>.ics`` from the real handler behind the local deployment's
HTTP API (routed from template.yaml), and must end with exactly the expected events, before and after changes.

It also shows why cancelled appointments leave the feed instead of staying as ``STATUS:CANCELLED``: a
subscriber keeps a cancelled event as an ordinary item, and a reader that does not look at STATUS (as
Google's subscription reader does not) still lists it.
"""

from __future__ import annotations

import base64
import datetime as dt
import gzip
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import icalendar
import recurring_ical_events

from calsync.domain.event import MARKER_PROPERTY, EventKey
from calsync.domain.model import Integration
from calsync.services import feeds as management
from devstack.deployment import Deployment
from devstack.functions import LocalFunction
from devstack.lambda_runner import Handler
from devstack.local_api import LocalApi
from tests.support.feeds import all_day, apply, at, booking, feed_url, fetch, today
from tests.support.ical_parsers import Span, parse_everywhere

ROOT = Path(__file__).resolve().parents[2]
VDIRSYNCER = ROOT / ".venv-vdirsyncer" / "bin" / "vdirsyncer"


class Subscriber:
    """One vdirsyncer subscription to a feed URL, with its local copy in ``folder``."""

    def __init__(self, workdir: Path, url: str) -> None:
        assert VDIRSYNCER.exists(), f"{VDIRSYNCER} is missing: run `make install`"
        self.folder = workdir / "calendar"
        self.folder.mkdir(parents=True)
        self.config = workdir / "config"
        self.config.write_text(
            "[general]\n"
            f'status_path = "{workdir / "status"}/"\n\n'
            "[pair feed]\n"
            'a = "feed_remote"\n'
            'b = "feed_local"\n'
            "collections = null\n"
            'conflict_resolution = "a wins"\n\n'
            "[storage feed_remote]\n"
            'type = "http"\n'
            f'url = "{url}"\n\n'
            "[storage feed_local]\n"
            'type = "filesystem"\n'
            f'path = "{self.folder}/"\n'
            'fileext = ".ics"\n',
            encoding="utf-8",
        )

    def _run(self, *args: str) -> None:
        done = subprocess.run([str(VDIRSYNCER), "-c", str(self.config), *args], capture_output=True, text=True,
                              timeout=120, stdin=subprocess.DEVNULL, check=False)
        assert done.returncode == 0, f"vdirsyncer {args[0]} failed:\n{done.stdout}\n{done.stderr}"

    def sync(self) -> dict[str, Span]:
        self._run("discover", "feed")
        self._run("sync", "feed")
        return self.events()

    def items(self) -> dict[str, Any]:
        """The subscriber's events by our marker. vdirsyncer's ``http`` storage names webcal items by a
        hash of their content (it rewrites UIDs), so our ``X-CALSYNC-KEY`` is what identifies them."""
        found: dict[str, Any] = {}
        for path in sorted(self.folder.glob("*.ics")):
            for event in icalendar.Calendar.from_ical(path.read_bytes()).walk("VEVENT"):
                marker = str(event[MARKER_PROPERTY])
                assert marker not in found, "the same event twice in the subscriber's calendar"
                found[marker] = event
        return found

    def events(self) -> dict[str, Span]:
        """What the subscriber holds, by marker, read by every parser from its own files."""
        merged: dict[str, Span] = {}
        for path in sorted(self.folder.glob("*.ics")):
            readings = list(parse_everywhere(path.read_bytes()).values())
            assert all(reading == readings[0] for reading in readings), path.name
            (span_read,) = readings[0].values()
            (event,) = icalendar.Calendar.from_ical(path.read_bytes()).walk("VEVENT")
            merged[str(event[MARKER_PROPERTY])] = span_read
        return merged


def span(start: dt.datetime, minutes: int = 50) -> Span:
    return start.astimezone(dt.UTC), start.astimezone(dt.UTC) + dt.timedelta(minutes=minutes)


def markers(feed: Integration, tenant_id: str) -> Callable[[str], str]:
    return lambda appointment_id: EventKey(feed.integration_id, tenant_id, appointment_id).marker


def rewriting(handler: Handler, rewrite: Callable[[bytes], bytes]) -> Handler:
    """The feed handler with its 200 bodies rewritten: what a feed calsync does not produce would do."""

    def run(event: dict[str, Any], context: Any) -> Any:
        result = handler(event, context)
        if result["statusCode"] == 200 and event["requestContext"]["http"]["method"] == "GET":
            raw = base64.b64decode(result["body"]) if result["isBase64Encoded"] else result["body"].encode()
            zipped = result["headers"].get("Content-Encoding") == "gzip"
            raw = rewrite(gzip.decompress(raw) if zipped else raw)
            raw = gzip.compress(raw) if zipped else raw
            result = {**result, "body": base64.b64encode(raw).decode(), "isBase64Encoded": True}
        return result

    return run


def test_vdirsyncer_subscribes_and_ends_with_exactly_the_expected_events(deployment: Deployment, tenant_id: str,
                                                                         tmp_path: Path) -> None:
    feed, issued = management.create_feed(tenant_id, "dr-1")
    uid = markers(feed, tenant_id)
    day = today()
    first, second, third = (at(day + dt.timedelta(days=n), 9 + n) for n in (1, 2, 3))
    apply(booking(tenant_id, "a-1", first), booking(tenant_id, "a-2", second),
          all_day(tenant_id, "day-off", day + dt.timedelta(days=5)))

    server = deployment.api
    seen = len(server.requests)
    subscriber = Subscriber(tmp_path, feed_url(server, issued.token))
    # Given a first sync
    assert subscriber.sync() == {uid("a-1"): span(first), uid("a-2"): span(second),
                                 uid("day-off"): (day + dt.timedelta(days=5), day + dt.timedelta(days=6))}
    # When one appointment moves, one is cancelled and one is booked
    moved = first + dt.timedelta(hours=2)
    apply(booking(tenant_id, "a-1", moved), booking(tenant_id, "a-2", second, status="cancelled"),
          booking(tenant_id, "a-3", third))
    # Then the next sync leaves exactly the new state
    assert subscriber.sync() == {uid("a-1"): span(moved), uid("a-3"): span(third),
                                 uid("day-off"): (day + dt.timedelta(days=5), day + dt.timedelta(days=6))}
    # and a sync with nothing changed changes nothing
    assert subscriber.sync() == subscriber.events()
    assert all(route == "GET /feeds/{file}" and status == 200 for route, status in server.requests[seen:])


def test_a_cancelled_event_kept_as_status_cancelled_would_stay_on_subscribers_calendars(
        deployment: Deployment, tenant_id: str, tmp_path: Path) -> None:
    feed, issued = management.create_feed(tenant_id, "dr-1")
    uid = markers(feed, tenant_id)
    start = at(today() + dt.timedelta(days=2), 10)
    apply(booking(tenant_id, "a-1", start), booking(tenant_id, "kept", start + dt.timedelta(hours=2)))

    cancelled_copy: list[bytes] = []

    def as_status_cancelled(body: bytes) -> bytes:
        """The alternative design: the cancelled event stays in the feed, marked STATUS:CANCELLED."""
        return body.replace(b"END:VCALENDAR\r\n", b"".join(cancelled_copy) + b"END:VCALENDAR\r\n")

    served = deployment.functions["FeedFunction"]
    altered = {"FeedFunction": LocalFunction(served.spec, region="us-east-1", account_id="123456789012",
                                             handler=rewriting(served.handler(), as_status_cancelled))}
    ours = deployment.api
    with LocalApi(altered, routes=deployment.blueprint.routes) as alternative:
        removing = Subscriber(tmp_path / "ours", feed_url(ours, issued.token))
        marking = Subscriber(tmp_path / "alternative", feed_url(alternative, issued.token))
        assert set(removing.sync()) == set(marking.sync()) == {uid("a-1"), uid("kept")}

        booked = fetch(ours, issued.token).body.decode()
        vevent = next(block for block in booked.split("BEGIN:VEVENT\r\n")[1:]
                      if uid("a-1") in block.replace("\r\n ", ""))
        sequence = int(next(line for line in vevent.split("\r\n") if line.startswith("SEQUENCE:"))[9:])
        cancelled_copy.append(("BEGIN:VEVENT\r\n" + vevent.split("END:VEVENT\r\n")[0] + "END:VEVENT\r\n")
                              .replace("STATUS:CONFIRMED", "STATUS:CANCELLED")
                              .replace(f"SEQUENCE:{sequence}", f"SEQUENCE:{sequence + 1}").encode())
        apply(booking(tenant_id, "a-1", start, status="cancelled"))

        # calsync's feed: the cancelled appointment is gone from the subscriber
        assert set(removing.sync()) == {uid("kept")}
        # the alternative: the subscriber still holds it, as an ordinary item...
        assert set(marking.sync()) == {uid("a-1"), uid("kept")}
        assert str(marking.items()[uid("a-1")]["STATUS"]) == "CANCELLED"
        # ...that a reader which ignores STATUS still lists as an appointment
        alternative_feed = icalendar.Calendar.from_ical(fetch(alternative, issued.token).body)
        listed = recurring_ical_events.of(alternative_feed).between(start - dt.timedelta(days=1),
                                                                    start + dt.timedelta(days=1))
        assert uid("a-1") in {str(event[MARKER_PROPERTY]) for event in listed}
