"""An initial backfill of N appointments into a new calendar, against the bare-write rate into the same server
measured in the same run, for Radicale (CalDAV) and the Google and Graph simulators (in a process of their
own). Goal: the backfill writes at ≥ 0.9× the bare rate, and leaves the same events.

The backfill is calsync's job as deployed: ``recovery.schedule_resync`` then sweeper runs until its progress
record says done (ledger leases, snapshots, drift checks, the disclosure record of each write, the provider's
pace and batch endpoints). The bare writers send the same event bodies with nothing else, two ways:

* one request per event, one after another — what a plain client does (the issue's "bare-PUT rate"): the
  goal's reference;
* the same request shape as calsync: CalDAV PUTs with as many in flight as calsync keeps, Google batches of
  50 inserts, Graph batches of 4 creates, one batch at a time — the server's rate for that shape, printed
  beside it as a stricter reference.

Twice: on loopback as it is, and with each request answered ``--round-trip-ms`` later (100 ms: the fast end of
what Google's, Microsoft's and iCloud's APIs take from an AWS region; ``bench.figures.RoundTrip``). On loopback
a simulator answers a write in about a millisecond, so the figure is CPU only — calsync's bookkeeping of each
item (DynamoDB calls to DynamoDB Local on the same cores) against the server's — and says what the machine
can do; the goal is read with the round trip, where a backfill, like a calendar client, mostly waits.
Rounds interleave the writers, each on a fresh calendar, so the servers' state (a collection's size, for
Radicale) is the same for each.

    make bench   (or: PYTHONPATH=layers/common:. unshare --net bash -c 'ip link set lo up &&
                  .venv/bin/python -m bench.backfill [--events 300] [--rounds 1] [--round-trip-ms 100]')
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import os
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from devstack.stack import LocalStack, StackPorts, apply_env, stack_env

PORTS = StackPorts.pick()
apply_env(stack_env(PORTS))
os.environ["POWERTOOLS_METRICS_DISABLED"] = "true"

import httpx  # noqa: E402

from bench.figures import RoundTrip, goal, machine, median  # noqa: E402
from bench.remote_sims import remote_simulators  # noqa: E402
from calsync.domain.contract import AppointmentChanged  # noqa: E402
from calsync.domain.event import EventKey  # noqa: E402
from calsync.domain.model import Integration, PrivacySettings, Provider  # noqa: E402
from calsync.domain.privacy import render  # noqa: E402
from calsync.formats import ical  # noqa: E402
from calsync.http import batch  # noqa: E402
from calsync.http.client import new_client  # noqa: E402
from calsync.providers import google as google_provider  # noqa: E402
from calsync.providers import microsoft as graph_provider  # noqa: E402
from calsync.services import recovery, sweeper  # noqa: E402
from calsync.services.sweeper import backfill  # noqa: E402
from calsync.store import appointments  # noqa: E402
from devstack.clinicians import connect_caldav  # noqa: E402
from devstack.oauth_clinicians import CLIENT_ID, CLIENT_SECRET, connect_google, connect_microsoft  # noqa: E402
from tests.support.appointments import appointment  # noqa: E402

TENANT = "bench-backfill"
PRIVACY = PrivacySettings()
KINDS = ("caldav", "google", "microsoft")
DIRECTORY = "northside-directory"


def booked(practitioner: str, count: int, now: dt.datetime) -> list[AppointmentChanged]:
    """``count`` appointments over the next weeks, stored as the EHR sent them two days ago (so the gap
    sweep leaves them to the backfill)."""
    made = []
    for n in range(count):
        start = (now + dt.timedelta(days=1 + n // 9, hours=n % 9)).replace(minute=0, second=0, microsecond=0)
        made.append(appointment(tenant_id=TENANT, appointment_id=f"apt-{n:05d}", practitioner_id=practitioner,
                                start=start.isoformat(), end=(start + dt.timedelta(minutes=50)).isoformat(),
                                updated_at=(now - dt.timedelta(days=2)).isoformat()))
    appointments.load((a, now - dt.timedelta(days=2)) for a in made)
    return made


class Bench:
    def __init__(self, stack: LocalStack, google: Any, graph: Any, events: int) -> None:
        self.stack, self.google, self.graph, self.events = stack, google, graph, events
        self.now = dt.datetime.now(dt.UTC).replace(microsecond=0)
        self.serial = 0
        self.seen: dict[str, list[tuple[str, set[tuple[str, str]]]]] = {kind: [] for kind in KINDS}

    def fresh(self, kind: str, label: str) -> tuple[Integration, str]:
        """A new integration on a new calendar of ``kind`` (and the account it lives in)."""
        self.serial += 1
        practitioner = f"dr-{kind}-{label}-{self.serial}"
        if kind == "caldav":
            clinician = connect_caldav(self.stack, tenant_id=TENANT, practitioner_id=practitioner, privacy=PRIVACY,
                                       username=f"u{self.serial}-{kind}")
            return clinician.integration, f"{clinician.username}\n{clinician.password}"
        if kind == "google":
            made = connect_google(self.stack, self.google, tenant_id=TENANT, practitioner_id=practitioner,
                                  privacy=PRIVACY, user=f"{practitioner}@bench.example")
            return made.integration, made.user
        made = connect_microsoft(self.stack, self.graph, tenant_id=TENANT, practitioner_id=practitioner,
                                 privacy=PRIVACY, user=f"{practitioner}@bench.example", directory_tenant=DIRECTORY)
        return made.integration, made.user

    # -- calsync's backfill -------------------------------------------------------------------------------

    def calsync(self, kind: str) -> float:
        integration, account = self.fresh(kind, "calsync")
        booked(integration.practitioner_id, self.events, self.now)
        recovery.schedule_resync(integration.integration_id, self.now)
        started = time.perf_counter()
        for minute in range(1, 60):
            sweeper.run(self.now + dt.timedelta(seconds=minute))
            progress = backfill.progress(integration.integration_id)
            if progress is not None and progress.state == "done":
                break
        elapsed = time.perf_counter() - started
        assert progress is not None and progress.counts["written"] == self.events, progress
        self.seen[kind].append(("calsync", self.shown(kind, integration, account)))
        return self.events / elapsed

    # -- bare writers ---------------------------------------------------------------------------------------

    def bare(self, kind: str, shaped: bool) -> float:
        integration, account = self.fresh(kind, "bare")
        made = booked(integration.practitioner_id, self.events, self.now)  # the same appointments, never synced
        events = [(EventKey(integration.integration_id, TENANT, a.appointment_id), render(a, PRIVACY)) for a in made]
        write: Callable[[list[tuple[EventKey, Any]]], float] = {
            "caldav": self._caldav, "google": self._google, "microsoft": self._graph}[kind](
            integration, account, shaped)
        rate = write(events)
        self.seen[kind].append(("bare" if shaped else "one by one", self.shown(kind, integration, account)))
        return rate

    def _caldav(self, integration: Integration, account: str, shaped: bool) -> Callable[..., float]:
        username, password = account.split("\n")
        collection = integration.calendar_id

        def write(events: list[tuple[EventKey, Any]]) -> float:
            with new_client(10.0, auth=httpx.BasicAuth(username, password)) as client:
                def put(item: tuple[EventKey, Any]) -> None:
                    key, event = item
                    answer = client.put(f"{collection}{key.digest}.ics", content=ical.calendar_object(key, event,
                                                                                                      self.now),
                                        headers={"If-None-Match": "*", "Content-Type": "text/calendar; charset=utf-8"})
                    assert answer.status_code in (201, 204), answer.status_code

                started = time.perf_counter()
                with ThreadPoolExecutor(backfill.PACES[Provider.CALDAV].workers if shaped else 1) as pool:
                    list(pool.map(put, events))
                return len(events) / (time.perf_counter() - started)

        return write

    def _token(self, sim: Any, token_uri: str, refresh_token: str, **extra: str) -> str:
        with new_client(10.0) as client:
            answer = client.post(token_uri, data={"grant_type": "refresh_token", "refresh_token": refresh_token,
                                                  "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, **extra})
            answer.raise_for_status()
            token: str = answer.json()["access_token"]
            return token

    def _google(self, integration: Integration, user: str, shaped: bool) -> Callable[..., float]:
        token = self._token(self.google, self.google.address("token_uri"), self.google.connect(user, CLIENT_ID))
        api = self.google.address("api_base")
        origin = api.split("/calendar/v3")[0]
        size = backfill.PACES[Provider.GOOGLE].batch

        def write(events: list[tuple[EventKey, Any]]) -> float:
            bodies = [google_provider.event_body(key, event) for key, event in events]
            with new_client(30.0) as client:
                client.headers["Authorization"] = f"Bearer {token}"
                started = time.perf_counter()
                if shaped:
                    for offset in range(0, len(bodies), size):
                        parts = [batch.Part("POST", f"/calendar/v3/calendars/{user}/events?sendUpdates=none", body)
                                 for body in bodies[offset:offset + size]]
                        content_type, payload = batch.encode(parts)
                        answer = client.post(f"{origin}/batch/calendar/v3", content=payload,
                                             headers={"Content-Type": content_type})
                        assert all(inner.status_code == 200 for inner in batch.decode(answer, len(parts)))
                else:
                    for body in bodies:
                        assert client.post(f"{api}/calendars/{user}/events", params={"sendUpdates": "none"},
                                           json=body).status_code == 200
                return len(bodies) / (time.perf_counter() - started)

        return write

    def _graph(self, integration: Integration, user: str, shaped: bool) -> Callable[..., float]:
        login = self.graph.address("login_base")
        token = self._token(self.graph, f"{login}/{DIRECTORY}/oauth2/v2.0/token",
                            self.graph.connect(user, CLIENT_ID, DIRECTORY),
                            scope="https://graph.microsoft.com/Calendars.ReadWrite offline_access")
        api = self.graph.address("api_base")
        events_url = f"/me/calendars/{integration.calendar_id}/events"
        size = backfill.PACES[Provider.MICROSOFT].batch
        headers = {"Content-Type": "application/json", "Prefer": graph_provider.PREFER}

        def write(events: list[tuple[EventKey, Any]]) -> float:
            bodies = [{**graph_provider.event_body(event), **graph_provider.creation_fields(key)}
                      for key, event in events]
            with new_client(30.0) as client:
                client.headers["Authorization"] = f"Bearer {token}"
                started = time.perf_counter()
                if shaped:
                    for offset in range(0, len(bodies), size):
                        requests = [{"id": str(n), "method": "POST", "url": events_url, "body": body,
                                     "headers": headers} for n, body in enumerate(bodies[offset:offset + size])]
                        answer = client.post(f"{api}/$batch", json={"requests": requests})
                        assert all(item["status"] == 201 for item in answer.json()["responses"])
                else:
                    for body in bodies:
                        assert client.post(f"{api}{events_url}", json=body,
                                           headers={"Prefer": graph_provider.PREFER}).status_code == 201
                return len(bodies) / (time.perf_counter() - started)

        return write

    # -- what each calendar ends with ----------------------------------------------------------------------

    def shown(self, kind: str, integration: Integration, account: str) -> set[tuple[str, str]]:
        """(title, start) of every event the server holds."""
        if kind == "caldav":
            from devstack.calendar_reader import read_calendar

            username, password = account.split("\n")
            return {(e.summary, str(e.start)) for e in read_calendar(integration.calendar_id, username, password)}
        if kind == "google":
            return {(e["summary"], e["start"]["dateTime"]) for e in self.google.events(account)}
        return {(e["subject"], e["start"]["dateTime"]) for e in self.graph.events(account, integration.calendar_id)}


def rounds(count: int, cases: dict[str, Callable[[], float]]) -> Iterator[tuple[str, float]]:
    names = list(cases)
    for number in range(count):
        for name in names if number % 2 == 0 else list(reversed(names)):
            yield name, cases[name]()


def compare(bench: Bench, kinds: list[str], rounds_wanted: int, label: str, has_goal: bool) -> None:
    print(f"\nbackfill of {bench.events} appointments into a new calendar, {label}: events written per second "
          f"({rounds_wanted} interleaved rounds, best and median)")
    print(f"  {'server':10s} {'calsync':>17s} {'bare, same shape':>20s} {'bare, one by one':>20s}"
          f" {'vs same shape':>14s} {'vs one by one':>14s}")
    for kind in kinds:
        bench.seen[kind] = []
        rates: dict[str, list[float]] = {"calsync": [], "shaped": [], "single": []}
        writers: dict[str, Callable[[], float]] = {
            "calsync": functools.partial(bench.calsync, kind),
            "shaped": functools.partial(bench.bare, kind, shaped=True),
            "single": functools.partial(bench.bare, kind, shaped=False)}
        for name, rate in rounds(rounds_wanted, writers):
            rates[name].append(rate)
        shaped = median(rates["calsync"]) / median(rates["shaped"])
        single = median(rates["calsync"]) / median(rates["single"])
        print(f"  {kind:10s} " + "".join(f"{max(rates[n]):8.0f} {median(rates[n]):7.0f}/s "
                                         for n in ("calsync", "shaped", "single"))
              + f"{shaped:13.2f}× {single:13.2f}×")
        endings = {frozenset(events) for _, events in bench.seen[kind]}
        same = len(endings) == 1 and len(next(iter(endings))) == bench.events
        print(f"  {'':10s} same end state in every calendar: {'yes' if same else 'NO'}")
        goal(f"backfill of {bench.events} into {kind}, {label}", f"{median(rates['calsync']):.0f} events/s median",
             f"bare one by one {median(rates['single']):.0f}/s (same shape {median(rates['shaped']):.0f}/s,"
             f" {shaped:.2f}×)", single, "≥ 0.9× bare, same end state" if has_goal else "none: CPU-bound",
             single >= 0.9 and same if has_goal else None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=1, help="rounds on loopback")
    parser.add_argument("--distant-rounds", type=int, default=1, help="rounds with the round trip")
    parser.add_argument("--round-trip-ms", type=float, default=100.0)
    parser.add_argument("--kinds", default=",".join(KINDS), help="comma-separated: caldav, google, microsoft")
    args = parser.parse_args()
    print(f"machine: {machine()}")
    delay = RoundTrip()
    kinds = args.kinds.split(",")
    with LocalStack(ports=PORTS) as stack, remote_simulators() as (google, graph):
        stack.create_resources()
        bench = Bench(stack, google, graph, args.events)
        sweeper.run(bench.now)  # the gap sweep's first pass (the last day) is not the backfill's to pay for
        compare(bench, kinds, args.rounds, "on loopback", has_goal=False)
        delay.seconds = args.round_trip_ms / 1000
        compare(bench, kinds, args.distant_rounds, f"a provider {args.round_trip_ms:.0f} ms away", has_goal=True)


if __name__ == "__main__":
    main()
