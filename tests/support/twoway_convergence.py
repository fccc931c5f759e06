"""The proof of two-way convergence: a hypothesis state machine around one clinician connected two-way to a
Google, Graph or CalDAV calendar, through the whole local deployment (webhook route, pull queue and worker,
sweeper, bus).

Each generated *schedule* interleaves EHR changes (calsync writes the clinician's calendar), the clinician's
own life on that calendar (events created, moved and deleted, free ones, recurring series with a moved and
a cancelled instance), the clinician dragging or deleting calsync's own events, notifications dropped,
duplicated, reordered and delayed, sync states lost (Google 410, Graph ``syncStateNotFound``, a CalDAV token
the server forgot), pull-worker runs and safety-net sweeps. At the end the notifications are quiet, the
safety net runs and a later pull may confirm what the guard held; then:

* the stored busy blocks are exactly the clinician's busy events (the machine's own model of them, not
  calsync's reading): nothing lost, nothing duplicated, nothing of calsync's own;
* every calsync event is back to the EHR's version (one per scheduled appointment, none extra);
* restores never outnumber the clinician's edits of calsync events (no ping-pong), and announced conflicts are
  exactly the overlaps of busy time with scheduled appointments;
* provider calls stay within a fixed number per thing that happened.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol
from zoneinfo import ZoneInfo

import httpx
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, rule

from calsync.domain import rules as sync_rules
from calsync.domain.contract import parse_envelope
from calsync.domain.event import EventKey
from calsync.domain.model import Integration
from calsync.domain.privacy import render
from calsync.services import engine, lifecycle, sweeper, writers
from calsync.services.twoway import conflicts, pull, readers
from calsync.store import busy, integrations, ledger, pulls
from calsync.store import conflicts as recorded
from devstack.deployment import Deployment
from devstack.sims.google import GoogleCalendarSimulator
from devstack.sims.microsoft import MicrosoftGraphSimulator
from tests.support.reliability import reset_sweeper
from tests.support.twoway import (
    Outbound,
    blocks,
    settle,
    start,
    two_way_caldav,
    two_way_google,
    two_way_microsoft,
)

ZONE = ZoneInfo("America/Chicago")
APPOINTMENTS = ("apt-1", "apt-2", "apt-3")
PRACTITIONER = "dr-two"
DISTURBANCES = ("drop", "duplicate", "reorder", "delay")
CALLS_PER_EVENT = 14
"""Provider calls allowed per thing that happened (a write, an edit, a notification disturbed, a sweep)."""

Span = tuple[dt.datetime, dt.datetime]


def at(day: int, hour: int, minute: int = 0) -> dt.datetime:
    base = (dt.datetime.now(ZONE) + dt.timedelta(days=day)).date()
    return dt.datetime.combine(base, dt.time(hour, minute), ZONE)


# -- the clinician's side of each kind of calendar ----------------------------------------------------------


Sim = GoogleCalendarSimulator | MicrosoftGraphSimulator


class Side(Protocol):
    integration: Integration

    @property
    def sims(self) -> Sequence[Sim]: ...


    def create(self, start: dt.datetime, end: dt.datetime, free: bool) -> str: ...
    def move(self, ref: str, start: dt.datetime, end: dt.datetime) -> None: ...
    def delete(self, ref: str) -> None: ...
    def series(self, start: dt.datetime, count: int) -> str: ...
    def move_instance(self, ref: str, original: dt.datetime, start: dt.datetime) -> None: ...
    def cancel_instance(self, ref: str, original: dt.datetime) -> None: ...
    def own(self) -> list[tuple[str, Span, str]]: ...  # (our key, times, title) of calsync's events
    def edit_own(self, key: EventKey, start: dt.datetime | None) -> None: ...  # None: delete it
    def lose_sync_state(self) -> None: ...


class GoogleSide:
    def __init__(self, deployment: Deployment, sim: GoogleCalendarSimulator, tenant: str) -> None:
        clinician = two_way_google(deployment.stack, sim, tenant, PRACTITIONER)
        self.integration, self.user, self.sim, self.sims = clinician.integration, clinician.user, sim, (sim,)

    def create(self, start: dt.datetime, end: dt.datetime, free: bool) -> str:
        fields: dict[str, Any] = {"transparency": "transparent"} if free else {}
        return str(self.sim.create_event(self.user, start, end, "Personal", time_zone=ZONE.key, **fields)["id"])

    def move(self, ref: str, start: dt.datetime, end: dt.datetime) -> None:
        self.sim.move_event(self.user, ref, start, end)

    def delete(self, ref: str) -> None:
        self.sim.delete_event(self.user, ref)

    def series(self, start: dt.datetime, count: int) -> str:
        return str(self.sim.create_event(self.user, start, start + dt.timedelta(hours=1), "Series",
                                         time_zone=ZONE.key, recurrence=[f"RRULE:FREQ=DAILY;COUNT={count}"])["id"])

    def move_instance(self, ref: str, original: dt.datetime, start: dt.datetime) -> None:
        self.sim.move_instance(self.user, ref, original, start)

    def cancel_instance(self, ref: str, original: dt.datetime) -> None:
        self.sim.cancel_instance(self.user, ref, original)

    def own(self) -> list[tuple[str, Span, str]]:
        found = []
        for event in self.sim.events(self.user):
            marker = ((event.get("extendedProperties") or {}).get("private") or {}).get("X-CALSYNC-KEY")
            if marker:
                start, end = (dt.datetime.fromisoformat(event[edge]["dateTime"]) for edge in ("start", "end"))
                found.append((str(marker), (start, end), str(event.get("summary"))))
        return found

    def edit_own(self, key: EventKey, start: dt.datetime | None) -> None:
        if start is None:
            self.sim.delete_event(self.user, key.digest)
        else:
            self.sim.move_event(self.user, key.digest, start)

    def lose_sync_state(self) -> None:
        self.sim.expire_sync_tokens()


class GraphSide:
    def __init__(self, deployment: Deployment, sim: MicrosoftGraphSimulator, tenant: str) -> None:
        clinician = two_way_microsoft(deployment.stack, sim, tenant, PRACTITIONER,
                                      user=f"{PRACTITIONER}@{tenant}.onmicrosoft.example")
        self.integration, self.user, self.sim, self.sims = clinician.integration, clinician.user, sim, (sim,)
        self.calendar = clinician.integration.calendar_id

    def create(self, start: dt.datetime, end: dt.datetime, free: bool) -> str:
        fields: dict[str, Any] = {"showAs": "free"} if free else {}
        return str(self.sim.create_event(self.user, start, end, "Personal", calendar=self.calendar, **fields)["id"])

    def move(self, ref: str, start: dt.datetime, end: dt.datetime) -> None:
        self.sim.move_event(self.user, ref, start, end)

    def delete(self, ref: str) -> None:
        self.sim.delete_event(self.user, ref)

    def series(self, start: dt.datetime, count: int) -> str:
        recurrence = {"pattern": {"type": "daily", "interval": 1},
                      "range": {"type": "numbered", "numberOfOccurrences": count,
                                "startDate": start.date().isoformat(), "recurrenceTimeZone": ZONE.key}}
        return str(self.sim.create_event(self.user, start, start + dt.timedelta(hours=1), "Series",
                                         calendar=self.calendar, recurrence=recurrence)["id"])

    def move_instance(self, ref: str, original: dt.datetime, start: dt.datetime) -> None:
        self.sim.move_occurrence(self.user, ref, original, start)

    def cancel_instance(self, ref: str, original: dt.datetime) -> None:
        self.sim.cancel_occurrence(self.user, ref, original)

    def own(self) -> list[tuple[str, Span, str]]:
        found = []
        for event in self.sim.events(self.user, self.calendar):
            if event.get("transactionId"):
                start, end = (dt.datetime.fromisoformat(event[edge]["dateTime"]).replace(
                    tzinfo=ZoneInfo(event[edge]["timeZone"])) for edge in ("start", "end"))
                found.append((str(event["transactionId"]), (start, end), str(event.get("subject"))))
        return found

    def edit_own(self, key: EventKey, start: dt.datetime | None) -> None:
        entry = ledger.get(self.integration.integration_id, key.appointment_key)
        if entry is None or entry.external_id is None:
            return
        try:
            if start is None:
                self.sim.delete_event(self.user, entry.external_id)
            else:
                self.sim.move_event(self.user, entry.external_id, start)
        except KeyError:
            pass  # already gone (deleted by the clinician, not restored yet)

    def lose_sync_state(self) -> None:
        self.sim.expire_delta_tokens()


class CalDavSide:
    def __init__(self, deployment: Deployment, tenant: str) -> None:
        self.clinician = two_way_caldav(deployment.stack, tenant, PRACTITIONER)
        self.integration, self.sims = self.clinician.integration, ()
        self.auth = (self.clinician.username, self.clinician.password)
        self.bodies: dict[str, dict[str, str]] = {}

    def _put(self, ref: str) -> None:
        ics = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//clinician//EN\r\n" + "".join(
            self.bodies[ref].values()) + "END:VCALENDAR\r\n"
        answer = httpx.put(f"{self.clinician.calendar_url}{ref}.ics", content=ics, auth=self.auth,
                           headers={"Content-Type": "text/calendar"}, timeout=10)
        assert answer.status_code in (201, 204), answer.text

    @staticmethod
    def _vevent(uid: str, start: dt.datetime, end: dt.datetime, extra: str = "") -> str:
        stamp = "%Y%m%dT%H%M%S"
        return (f"BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20260101T000000Z\r\nDTSTART;TZID={ZONE.key}:"
                f"{start.astimezone(ZONE).strftime(stamp)}\r\nDTEND;TZID={ZONE.key}:"
                f"{end.astimezone(ZONE).strftime(stamp)}\r\nSUMMARY:Personal\r\n{extra}END:VEVENT\r\n")

    def create(self, start: dt.datetime, end: dt.datetime, free: bool) -> str:
        ref = uuid.uuid4().hex[:12]
        self.bodies[ref] = {"": self._vevent(ref, start, end, "TRANSP:TRANSPARENT\r\n" if free else "")}
        self._put(ref)
        return ref

    def move(self, ref: str, start: dt.datetime, end: dt.datetime) -> None:
        free = "TRANSP:TRANSPARENT" in self.bodies[ref][""]
        self.bodies[ref][""] = self._vevent(ref, start, end, "TRANSP:TRANSPARENT\r\n" if free else "")
        self._put(ref)

    def delete(self, ref: str) -> None:
        httpx.delete(f"{self.clinician.calendar_url}{ref}.ics", auth=self.auth, timeout=10)

    def series(self, start: dt.datetime, count: int) -> str:
        ref = uuid.uuid4().hex[:12]
        self.bodies[ref] = {"": self._vevent(ref, start, start + dt.timedelta(hours=1),
                                             f"RRULE:FREQ=DAILY;COUNT={count}\r\n")}
        self._put(ref)
        return ref

    def move_instance(self, ref: str, original: dt.datetime, start: dt.datetime) -> None:
        recurrence = f"RECURRENCE-ID;TZID={ZONE.key}:{original.astimezone(ZONE):%Y%m%dT%H%M%S}\r\n"
        self.bodies[ref][original.isoformat()] = self._vevent(ref, start, start + dt.timedelta(hours=1), recurrence)
        self._put(ref)

    def cancel_instance(self, ref: str, original: dt.datetime) -> None:
        self.bodies[ref].pop(original.isoformat(), None)
        master = self.bodies[ref][""]
        exdate = f"EXDATE;TZID={ZONE.key}:{original.astimezone(ZONE):%Y%m%dT%H%M%S}\r\n"
        self.bodies[ref][""] = master.replace("END:VEVENT", exdate + "END:VEVENT")
        self._put(ref)

    def own(self) -> list[tuple[str, Span, str]]:
        from devstack.calendar_reader import read_calendar

        return [(event.uid.removesuffix("@calsync"), (event.start, event.end), event.summary)  # type: ignore[misc]
                for event in read_calendar(self.clinician.calendar_url, *self.auth) if event.uid.endswith("@calsync")]

    def edit_own(self, key: EventKey, start: dt.datetime | None) -> None:
        href = f"{self.clinician.calendar_url}{key.digest}.ics"
        if start is None:
            httpx.delete(href, auth=self.auth, timeout=10)
            return
        current = httpx.get(href, auth=self.auth, timeout=10)
        if current.status_code != 200:
            return
        import icalendar

        calendar = icalendar.Calendar.from_ical(current.text)
        for component in calendar.walk("VEVENT"):
            length = component.decoded("DTEND") - component.decoded("DTSTART")
            del component["DTSTART"], component["DTEND"]
            component.add("DTSTART", start.astimezone(dt.UTC))
            component.add("DTEND", start.astimezone(dt.UTC) + length)
        httpx.put(href, content=calendar.to_ical(), auth=self.auth, timeout=10,
                  headers={"Content-Type": "text/calendar"})

    def lose_sync_state(self) -> None:
        """The server forgets the sync token calsync holds (a CalDAV server may, at any time)."""
        from calsync.domain.busy import calendar_tag

        calendar = self.integration.calendar_id
        known = pulls.cursors(self.integration.integration_id).get(calendar)
        if known is not None and known.cursor is not None:
            pulls.save_cursor(self.integration.integration_id, calendar_tag(calendar), pulls.Cursor(
                calendar, known.cursor + "-forgotten", known.window_end, known.blocks, known.hold))


# -- counting provider calls ------------------------------------------------------------------------------


class Counting:
    """Wraps a provider (writer or reader): counts every call that reaches the provider."""

    def __init__(self, inner: Any, tally: Counter[str]) -> None:
        self._inner, self._tally = inner, tally
        self.name = inner.name

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._inner, name)
        if name not in ("upsert", "delete", "changes", "event", "watch", "renew", "stop"):
            return attribute

        def counted(*args: Any, **kwargs: Any) -> Any:
            self._tally[name] += 1
            return attribute(*args, **kwargs)

        return counted


# -- figures across schedules -----------------------------------------------------------------------------


@dataclass
class Figures:
    schedules: Counter[str] = field(default_factory=Counter)
    steps: Counter[str] = field(default_factory=Counter)
    disturbed: Counter[str] = field(default_factory=Counter)
    blocks_checked: int = 0
    blocks_missing: int = 0
    blocks_extra: int = 0
    own_checked: int = 0
    own_missing: int = 0
    own_duplicated: int = 0
    own_stale: int = 0
    own_extra: int = 0
    edits_of_ours: int = 0
    reverted: int = 0
    loops: int = 0
    conflicts_checked: int = 0
    conflicts_wrong: int = 0
    provider_calls: int = 0
    call_bound: int = 0

    def line(self) -> str:
        kinds = ", ".join(f"{kind} {n}" for kind, n in sorted(self.schedules.items()))
        return (f"{sum(self.schedules.values())} two-way schedules ({kinds}), "
                f"{sum(self.steps.values())} steps, notifications disturbed "
                f"{dict(sorted(self.disturbed.items()))}, {self.steps['lose_sync_state']} sync states lost, "
                f"{self.edits_of_ours} edits of calsync events ({self.reverted} reverted); checked "
                f"{self.blocks_checked} busy blocks ({self.blocks_missing} missing, {self.blocks_extra} extra), "
                f"{self.own_checked} calsync events ({self.own_missing} missing, {self.own_duplicated} duplicated, "
                f"{self.own_stale} stale, {self.own_extra} extra), {self.conflicts_checked} conflicts "
                f"({self.conflicts_wrong} wrong), {self.loops} loops; {self.provider_calls} provider calls "
                f"(bound {self.call_bound})")


FIGURES = Figures()


class Env:
    deployment: Deployment | None = None
    google: GoogleCalendarSimulator | None = None
    microsoft: MicrosoftGraphSimulator | None = None
    kind: str = "google"
    updated_at = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


# -- the machine ------------------------------------------------------------------------------------------


class TwoWayConvergence(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        assert Env.deployment is not None
        self.deployment = Env.deployment
        reset_sweeper()
        FIGURES.schedules[Env.kind] += 1
        self.tenant = f"tw-{uuid.uuid4().hex[:12]}"
        self.side: Side
        if Env.kind == "google":
            assert Env.google is not None
            self.side = GoogleSide(self.deployment, Env.google, self.tenant)
        elif Env.kind == "microsoft":
            assert Env.microsoft is not None
            self.side = GraphSide(self.deployment, Env.microsoft, self.tenant)
        else:
            self.side = CalDavSide(self.deployment, self.tenant)
        self.integration_id = self.side.integration.integration_id
        self.tally: Counter[str] = Counter()
        provider = self.side.integration.provider
        writers.override(provider, lambda i: Counting(writers.build(i), self.tally))
        readers.override(provider, lambda i: Counting(readers.build(i), self.tally))
        self.out = Outbound.listen(self.deployment.stack, self.tenant)
        self.personal: dict[str, tuple[Span, bool]] = {}
        self.series: dict[str, dict[dt.datetime, Span | None]] = {}
        self.ehr: dict[str, dict[str, Any]] = {}
        self.versions: Counter[str] = Counter()
        self.edits = 0
        self.happened = 1
        start(self.integration_id)
        self._pump()

    # -- the EHR ---------------------------------------------------------------------------------------

    @rule(appointment=st.sampled_from(APPOINTMENTS), kind=st.sampled_from(("create", "reschedule", "cancel")),
          day=st.integers(1, 4), hour=st.integers(8, 16))
    def ehr_change(self, appointment: str, kind: str, day: int, hour: int) -> None:
        state = dict(self.ehr.get(appointment) or {"day": day, "hour": hour, "status": "scheduled"})
        if kind == "cancel":
            state["status"] = "cancelled"
        else:
            state.update(day=day, hour=hour, status="scheduled")
        self.ehr[appointment] = state
        self.versions[appointment] += 1
        begin = at(state["day"], state["hour"])
        detail = {"schema_version": 1, "tenant_id": self.tenant, "appointment_id": appointment,
                  "updated_at": (Env.updated_at + dt.timedelta(seconds=sum(self.versions.values()))).isoformat(),
                  "version": self.versions[appointment], "status": state["status"], "start": begin.isoformat(),
                  "end": (begin + dt.timedelta(minutes=45)).isoformat(), "timezone": ZONE.key,
                  "practitioner_id": PRACTITIONER, "practice": {"id": "lakeside", "name": "Lakeside"},
                  "client": {"id": f"cl-{appointment}", "internal_id": f"MRN-{appointment}"}}
        change = parse_envelope({"detail-type": "Appointment Changed", "source": "ehr.test", "detail": detail})
        if not engine.handle_change(change).stale:
            conflicts.appointment_changed(change)  # what on_appointment_change does after the engine
        self.happened += 1
        FIGURES.steps["ehr_change"] += 1

    # -- the clinician's own life ------------------------------------------------------------------------

    @rule(day=st.integers(1, 4), hour=st.integers(7, 18), minutes=st.sampled_from((30, 60, 90)), free=st.booleans())
    def personal_create(self, day: int, hour: int, minutes: int, free: bool) -> None:
        begin = at(day, hour)
        ref = self.side.create(begin, begin + dt.timedelta(minutes=minutes), free)
        self.personal[ref] = ((begin, begin + dt.timedelta(minutes=minutes)), free)
        self._touched("personal_create")

    @rule(pick=st.integers(0, 99), day=st.integers(1, 4), hour=st.integers(7, 18))
    def personal_move(self, pick: int, day: int, hour: int) -> None:
        if not self.personal:
            return
        ref = sorted(self.personal)[pick % len(self.personal)]
        (begin, end), free = self.personal[ref]
        moved = at(day, hour)
        self.side.move(ref, moved, moved + (end - begin))
        self.personal[ref] = ((moved, moved + (end - begin)), free)
        self._touched("personal_move")

    @rule(pick=st.integers(0, 99))
    def personal_delete(self, pick: int) -> None:
        if not self.personal:
            return
        ref = sorted(self.personal)[pick % len(self.personal)]
        self.side.delete(ref)
        del self.personal[ref]
        self._touched("personal_delete")

    @rule(day=st.integers(1, 2), hour=st.integers(6, 9))
    def series_create(self, day: int, hour: int) -> None:
        if len(self.series) >= 2:
            return
        begin = at(day, hour)
        ref = self.side.series(begin, 4)
        self.series[ref] = {begin + dt.timedelta(days=k): (begin + dt.timedelta(days=k),
                                                          begin + dt.timedelta(days=k, hours=1)) for k in range(4)}
        self._touched("series_create")

    @rule(pick=st.integers(0, 99), index=st.integers(1, 3), cancel=st.booleans(), hour=st.integers(12, 20))
    def series_edit(self, pick: int, index: int, cancel: bool, hour: int) -> None:
        if not self.series:
            return
        ref = sorted(self.series)[pick % len(self.series)]
        original = sorted(self.series[ref])[index]
        if self.series[ref][original] is None:
            return
        if cancel:
            self.side.cancel_instance(ref, original)
            self.series[ref][original] = None
        else:
            moved = original.astimezone(ZONE).replace(hour=hour)
            self.side.move_instance(ref, original, moved)
            self.series[ref][original] = (moved, moved + dt.timedelta(hours=1))
        self._touched("series_edit")

    @rule(pick=st.integers(0, 99), delete=st.booleans(), hour=st.integers(17, 20))
    def clinician_edits_a_calsync_event(self, pick: int, delete: bool, hour: int) -> None:
        """The clinician drags (or deletes) one of the events calsync keeps on their calendar."""
        scheduled = sorted(a for a, state in self.ehr.items() if state["status"] == "scheduled")
        if not scheduled:
            return
        appointment = scheduled[pick % len(scheduled)]
        state = self.ehr[appointment]
        key = EventKey(self.integration_id, self.tenant, appointment)
        self.side.edit_own(key, None if delete else at(state["day"], hour))
        FIGURES.edits_of_ours += 1
        self.edits += 1
        self._touched("edit_ours")

    # -- the world around ------------------------------------------------------------------------------

    @rule(kind=st.sampled_from(DISTURBANCES), times=st.integers(2, 3))
    def disturb_notifications(self, kind: str, times: int) -> None:
        for sim in self.side.sims:
            if kind == "drop":
                sim.push.drop(times)
            elif kind == "duplicate":
                sim.push.duplicate(times)
            elif kind == "reorder":
                sim.push.reorder(times)
            else:
                sim.push.delay(0.3, times)
            FIGURES.disturbed[kind] += 1
        self.happened += 1
        FIGURES.steps["disturb"] += 1

    @rule()
    def lose_sync_state(self) -> None:
        self.side.lose_sync_state()
        self.happened += 1
        FIGURES.steps["lose_sync_state"] += 1

    @rule()
    def pump(self) -> None:
        """Notifications arrive; the pull worker runs its queue."""
        self._pump()
        FIGURES.steps["pump"] += 1

    @rule()
    def safety_net(self) -> None:
        """The sweeper a quarter of an hour later: every integration is pulled (CalDAV is polled)."""
        sweeper.run(dt.datetime.now(dt.UTC) + pull.SAFETY_NET)
        self._pump()
        self.happened += 1
        FIGURES.steps["safety_net"] += 1

    def _touched(self, step: str) -> None:
        self.happened += 1
        FIGURES.steps[step] += 1

    def _pump(self) -> None:
        settle(self.deployment, *self.side.sims, rounds=10)

    # -- the end ---------------------------------------------------------------------------------------

    def teardown(self) -> None:
        provider = self.side.integration.provider
        try:
            self._quiesce()
            self._compare()
        finally:
            writers.override(provider, None)
            readers.override(provider, None)
            stored = integrations.get(self.integration_id)
            if stored is not None:
                lifecycle.disconnect(self.integration_id)  # nothing of this schedule stays due
                self._pump()  # the pull that withdraws its busy time

    def _quiesce(self) -> None:
        for sim in self.side.sims:
            sim.push.clear()  # switches still armed, held and reordered notifications: gone
        for _ in range(2):
            sweeper.run(dt.datetime.now(dt.UTC) + pull.SAFETY_NET)
            self._pump()
        pull.pull(self.integration_id, dt.datetime.now(dt.UTC) + pull.SAFETY_NET)  # confirms what the guard held
        self._pump()
        sweeper.run(dt.datetime.now(dt.UTC) + pull.SAFETY_NET)
        self._pump()

    def _expected_blocks(self) -> list[Span]:
        found = [span for span, free in self.personal.values() if not free]
        found += [span for instances in self.series.values() for span in instances.values() if span is not None]
        return sorted(found)

    def _compare(self) -> None:
        expected = self._expected_blocks()
        actual = sorted((b.start, b.end) for b in blocks(self.integration_id))
        FIGURES.blocks_checked += len(expected)
        missing, extra = Counter(expected) - Counter(actual), Counter(actual) - Counter(expected)
        FIGURES.blocks_missing += sum(missing.values())
        FIGURES.blocks_extra += sum(extra.values())
        own = self.side.own()
        integration = integrations.get(self.integration_id)
        assert integration is not None
        desired: dict[str, tuple[Span, str]] = {}
        for appointment in self.ehr:
            snapshot = _snapshot(self.tenant, appointment)
            shown = render(snapshot, integration.privacy) if snapshot is not None else None
            if shown is not None and sync_rules.wants(integration, snapshot, dt.datetime.now(dt.UTC)):
                desired[EventKey(self.integration_id, self.tenant, appointment).marker] = (
                    (shown.start, shown.end), shown.summary)
        seen = Counter(marker for marker, _, _ in own)
        FIGURES.own_checked += len(desired)
        FIGURES.own_duplicated += sum(n - 1 for n in seen.values() if n > 1)
        FIGURES.own_missing += len(desired.keys() - seen.keys())
        FIGURES.own_extra += len(seen.keys() - desired.keys())
        stale = [m for m, span, title in own if m in desired and (span, title) != desired[m]]
        FIGURES.own_stale += len(stale)
        reverted = [e for e in self.out.take() if e["detail-type"] == "External Edit Reverted"]
        FIGURES.reverted += len(reverted)
        ours = {span for _, span, _ in own}
        loops = sum(1 for span in extra if span in ours) + max(0, len(reverted) - self.edits)
        FIGURES.loops += loops
        wrong = self._conflicts()
        calls = sum(self.tally.values())
        bound = CALLS_PER_EVENT * self.happened
        FIGURES.provider_calls += calls
        FIGURES.call_bound += bound
        assert not missing and not extra, f"busy blocks: missing {sorted(missing)}, extra {sorted(extra)}"
        assert seen.keys() == desired.keys() and all(n == 1 for n in seen.values()), (
            f"calsync events: {dict(seen)} on the calendar, {sorted(desired)} wanted")
        assert not stale, f"calsync events not back to the EHR's version: {stale}"
        assert loops == 0, "a loop: calsync's own event came back, or restores outnumber the edits"
        assert wrong == 0, "announced conflicts differ from the overlaps of busy time and appointments"
        assert calls <= bound, f"{calls} provider calls, more than the bound {bound} ({dict(self.tally)})"

    def _conflicts(self) -> int:
        """Appointments whose announced conflicts differ from the busy blocks they overlap."""
        wrong = 0
        stored = busy.of_integration(self.integration_id)
        for appointment in self.ehr:
            snapshot = _snapshot(self.tenant, appointment)
            overlapping = set() if snapshot is None or snapshot.status.value != "scheduled" else {
                s.block.block_id for s in stored if s.block.start < snapshot.end and snapshot.start < s.block.end}
            _, known, _ = recorded.of_appointment(f"{self.tenant}#{appointment}")
            announced = {c.block_id for c in known if c.announced}
            FIGURES.conflicts_checked += len(overlapping)
            wrong += overlapping != announced
        FIGURES.conflicts_wrong += wrong
        return wrong


def _snapshot(tenant: str, appointment: str) -> Any:
    from calsync.store import appointments

    return appointments.get(tenant, appointment)

