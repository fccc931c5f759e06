"""Changes with the same ``updated_at`` and ``version`` but different content (issue 9, item 2): whatever
order they arrive in, and however their stores and syncs interleave, the stored snapshot and every
calendar end on the same one, the one the contract's order puts last. Over the in-memory ports
(``tests.support.memory``) and the real :class:`~calsync.services.engine.Engine`.
"""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from calsync.domain import rules
from calsync.domain.contract import AppointmentChanged
from calsync.domain.model import Integration, PrivacySettings, Provider
from calsync.services.engine import Engine
from tests.support.appointments import appointment
from tests.support.memory import MemoryAppointments, MemoryIntegrations, MemoryPorts, MemorySaved

NOW = dt.datetime(2026, 11, 23, 15, 0, tzinfo=dt.UTC)
STAMP = "2026-11-23T14:02:10Z"  # second resolution: the EHR made all of these within one second
INTEGRATIONS = (
    Integration(integration_id="int-a", tenant_id="tenant-1", practitioner_id="dr-1", provider=Provider.CALDAV,
                calendar_id="https://cal.example/a/"),
    Integration(integration_id="int-b", tenant_id="tenant-1", practitioner_id="dr-1", provider=Provider.GOOGLE,
                calendar_id="primary", privacy=PrivacySettings(show_notes=True, show_visit_type=True)),
)


class Interleaved(MemoryAppointments):
    """Snapshots as in DynamoDB, and a scheduler: after a change is stored, and before its calendars are
    written, the deliveries queued in ``inside`` run to the end (what concurrent invocations do)."""

    def __init__(self) -> None:
        super().__init__()
        self.engine: Engine | None = None
        self.inside: list[list[AppointmentChanged]] = []

    def save_if_newer(self, appointment: AppointmentChanged,
                      received_at: dt.datetime | None = None) -> MemorySaved | None:
        saved = super().save_if_newer(appointment, received_at)
        nested = self.inside.pop(0) if self.inside else []
        for other in nested:
            assert self.engine is not None
            self.engine.handle_change(other, NOW)
        return saved


VARIANT = st.fixed_dictionaries({}, optional={
    "start": st.sampled_from(["2026-11-24T09:30:00-05:00", "2026-11-24T11:00:00-05:00"]),
    "notes": st.sampled_from(["first note", "second note", "third note"]),
    "visit_type": st.sampled_from(["Follow-up", "Intake"]),
    "status": st.sampled_from(["scheduled", "cancelled", "no_show"]),
    "version": st.sampled_from([None, 0]),  # absent counts as 0: the same key
})


def change(fields: dict[str, Any]) -> AppointmentChanged:
    values = {"updated_at": STAMP, "version": None, **fields}
    start = dt.datetime.fromisoformat(values.get("start", "2026-11-24T09:30:00-05:00"))
    values["end"] = (start + dt.timedelta(minutes=50)).isoformat()
    return appointment(**values)


def run(deliveries: list[AppointmentChanged], nesting: list[int]) -> tuple[AppointmentChanged, dict[str, Any]]:
    """Delivers ``deliveries`` in order; ``nesting[i]`` says how many of the following deliveries run
    between the i-th one's store and its syncs. Returns the stored snapshot and what each calendar holds."""
    appointments = Interleaved()
    ports = MemoryPorts(appointments=appointments, integrations=MemoryIntegrations(
        *(integration.model_copy(deep=True) for integration in INTEGRATIONS)))
    engine = Engine(ports.sync_ports())
    appointments.engine = engine
    queue = list(deliveries)
    plan = list(nesting)
    while queue:
        first = queue.pop(0)
        take = plan.pop(0) if plan else 0
        appointments.inside = [queue[:take]]
        del queue[:take]
        engine.handle_change(first, NOW)
    [stored] = appointments.snapshots.values()
    shown = {i.integration_id: list(ports.calendar(i.integration_id).events.values()) for i in INTEGRATIONS}
    return stored, shown


@settings(max_examples=60, deadline=None)
@given(variants=st.lists(VARIANT, min_size=2, max_size=3, unique_by=lambda v: tuple(sorted(v.items()))),
       duplicates=st.lists(st.integers(0, 2), max_size=1),
       nesting=st.lists(st.integers(0, 3), max_size=6))
def test_equal_keys_converge_on_one_winner_in_every_order(variants: list[dict[str, Any]], duplicates: list[int],
                                                        nesting: list[int]) -> None:
    changes = [change(fields) for fields in variants]
    if len({c.model_dump_json() for c in changes}) < len(changes):
        return  # two variants that are the same change (e.g. version absent and 0)
    assert len({(c.updated_at, c.version or 0) for c in changes}) == 1
    winner = max(changes, key=lambda c: c.order_key)  # the contract's total order
    deliveries = changes + [changes[i % len(changes)] for i in duplicates]  # redeliveries too
    outcomes = set()
    for order in itertools.permutations(range(len(deliveries))):
        stored, shown = run([deliveries[i] for i in order], nesting)
        assert stored == winner, f"stored snapshot depends on arrival order {order}"
        for integration in INTEGRATIONS:
            wanted = rules.desired(integration, winner, NOW)
            assert shown[integration.integration_id] == ([wanted] if wanted else []), (
                f"{integration.integration_id} disagrees with the stored snapshot after order {order}")
        outcomes.add(repr(sorted(shown.items())))
    assert len(outcomes) == 1


def test_two_bookings_in_the_same_second_end_on_the_same_time_whichever_arrives_last() -> None:
    # The example of the review: the same updated_at and version, two different times
    early, late = change({"start": "2026-11-24T09:30:00-05:00"}), change({"start": "2026-11-24T11:00:00-05:00"})
    results = {order: run(list(order), []) for order in ((early, late), (late, early))}
    stored = {snapshot.start for snapshot, _ in results.values()}
    calendars = {tuple(event.start for event in shown["int-a"]) for _, shown in results.values()}
    assert len(stored) == 1 and len(calendars) == 1
    assert calendars == {(stored.pop(),)}
