"""The connect page on the local deployment (every function as deployed, workers and the retry sweeper on
their template schedule): how long from the clinician's "Continue" to the first event in their calendar,
and how heavy the pages are.

* existing appointments: the clinician already has appointments in the window when they connect; the
  first ones reach the calendar with the first resync, which the connect request starts itself
  (``services.connect.setup.FIRST_SYNCS``; the sweeper, on the template's ``rate(1 minute)``, does the rest);
* a change after connecting: an appointment booked right after the consent goes through the bus and the
  change queue, as every change does (the same-run baseline: the floor of any change);
* the connect requests themselves (settings posted → consent → callback answered), without the person.

Google is the simulator (consent answered at once: ``sim_consent``), calsync is what ``template.yaml`` deploys.

    make bench   (or: PYTHONPATH=layers/common:. unshare --net bash -c 'ip link set lo up &&
                  .venv/bin/python -m bench.connect [--runs 3] [--sweep-every SECONDS]')
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import json
import os
import re
import statistics
import time
from typing import Any

import httpx

from devstack.deployment import Deployment, DeploymentPorts

os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")  # the figures, not the functions' log lines
TENANT = "bench-health"
SOURCE = "ehr.bench"
PRACTICE = {"id": "main-street", "name": "Main Street Family Practice"}


def change(practitioner: str, appointment_id: str, days: int) -> dict[str, Any]:
    start = (dt.datetime.now(dt.UTC) + dt.timedelta(days=days)).replace(minute=0, second=0, microsecond=0)
    detail = {"schema_version": 1, "tenant_id": TENANT, "appointment_id": appointment_id,
              "updated_at": dt.datetime.now(dt.UTC).isoformat(), "status": "scheduled", "start": start.isoformat(),
              "end": (start + dt.timedelta(minutes=30)).isoformat(), "timezone": "UTC",
              "practitioner_id": practitioner, "practice": PRACTICE, "client": {"id": "c", "internal_id": "A-1"}}
    return {"Source": SOURCE, "DetailType": "Appointment Changed", "Detail": json.dumps(detail),
            "EventBusName": "calsync-local"}


def until(check: Any, timeout: float = 150.0) -> float:
    started = time.monotonic()
    while not check():
        if time.monotonic() - started > timeout:
            raise TimeoutError("no event")
        time.sleep(0.05)
    return time.monotonic()


class Flow:
    def __init__(self, deployment: Deployment, practitioner: str) -> None:
        from calsync.services.connect import links

        self.deployment, self.practitioner = deployment, practitioner
        self.browser = httpx.Client(base_url=deployment.api.base_url, follow_redirects=False, timeout=30)
        self.link = links.create(TENANT, practitioner).url
        self.weights: dict[str, int] = {}
        self.gzipped: dict[str, int] = {}

    def page(self, name: str, response: httpx.Response) -> httpx.Response:
        self.weights[name] = len(response.content)
        self.gzipped[name] = len(gzip.compress(response.content))
        return response

    def settings(self) -> dict[str, str]:
        opened = self.page("open", self.browser.get(self.link))
        link = re.search(r'name="link" value="([^"]+)"', opened.text)
        assert link is not None
        self.browser.post("/connect/start", data={"link": link.group(1)})
        self.page("choose", self.browser.get("/connect/choose"))
        page = self.page("settings", self.browser.get("/connect/settings?provider=google"))
        csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert csrf is not None
        for asset in ("connect.css", "connect.js"):
            self.page(asset, self.browser.get(f"/connect/static/{asset}"))
        return {"csrf": csrf.group(1), "kind": "google", "direction": "push", "target": "dedicated",
                "client_display": "internal_id", "show_location": "on", "private_visibility": "on",
                "past_days": "30", "future_days": "365", "reminder_minutes": ""}

    def connect(self, form: dict[str, str]) -> tuple[float, str]:
        """Posts the settings (the clinician's "Continue"), consents, comes back; returns when it was
        pressed and the dedicated calendar's id."""
        pressed = time.monotonic()
        going = self.browser.post("/connect/settings", data=form)
        consented = httpx.get(going.headers["location"] + "&sim_consent=allow&sim_user=" + self.user)
        self.browser.get(consented.headers["location"])
        self.page("status", self.browser.get("/connect/status"))
        from calsync.store import integrations

        (found,) = integrations.owned_by(f"{TENANT}#{self.practitioner}")
        return pressed, found.calendar_id

    @property
    def user(self) -> str:
        return f"{self.practitioner}@gmail.example"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--sweep-every", type=float, default=None,
                        help="sweeper period in seconds (default: the template's rate(1 minute))")
    args = parser.parse_args()
    existing: list[float] = []
    after: list[float] = []
    requests: list[float] = []
    with Deployment(DeploymentPorts.pick(), schedule_period_seconds=args.sweep_every).start(workers=True) as running:
        assert running.google is not None
        running.stack.allow_ehr(TENANT, SOURCE)  # the vendor's onboarding of the tenant
        events = running.stack.client("events")
        period = running.schedules["RetrySweeperFunction"].period_seconds
        flow: Flow | None = None
        for run in range(args.runs):
            practitioner = f"dr-bench-{run}"
            events.put_events(Entries=[change(practitioner, f"{practitioner}-old", 3)])  # type: ignore[list-item]
            time.sleep(2)  # the worker stores the snapshot (no integration yet: nothing to write)
            flow = Flow(running, practitioner)
            running.google.add_user(flow.user)
            form = flow.settings()
            pressed, calendar = flow.connect(form)
            requests.append(time.monotonic() - pressed)
            booked = time.monotonic()
            events.put_events(Entries=[change(practitioner, f"{practitioner}-new", 5)])  # type: ignore[list-item]

            def days(calendar: str = calendar) -> set[str]:
                assert running.google is not None
                return {e["start"]["dateTime"][:10] for e in running.google.events(calendar)}

            today = dt.datetime.now(dt.UTC).date()
            new_day, old_day = str(today + dt.timedelta(days=5)), str(today + dt.timedelta(days=3))
            after.append(until(lambda day=new_day: day in days()) - booked)
            existing.append(until(lambda day=old_day: day in days()) - pressed)
    print(f"sweeper every {period:g} s (template: rate(1 minute)); {args.runs} connections to the Google simulator")
    print(f"connect requests (Continue → consent → callback answered): min {min(requests) * 1000:.0f} ms, "
          f"median {statistics.median(requests) * 1000:.0f} ms")
    print(f"a change booked after connecting, in the calendar (baseline: the change path): "
          f"min {min(after):.2f} s, median {statistics.median(after):.2f} s")
    print(f"Continue → an appointment booked before connecting, in the calendar (the first resync, started "
          f"by the connect request): "
          f"min {min(existing):.1f} s, median {statistics.median(existing):.1f} s")
    if flow is not None:
        total = sum(flow.weights.values())
        print("page weight (bytes, uncompressed / gzip): " + ", ".join(
            f"{name} {flow.weights[name]} / {flow.gzipped[name]}" for name in flow.weights))
        print(f"  the settings page with its stylesheet and script: "
              f"{flow.weights['settings'] + flow.weights['connect.css'] + flow.weights['connect.js']} bytes "
              f"({flow.gzipped['settings'] + flow.gzipped['connect.css'] + flow.gzipped['connect.js']} gzip); "
              f"every page and asset once: {total} bytes; no images, fonts or third-party requests")


if __name__ == "__main__":
    main()
