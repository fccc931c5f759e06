"""Backfill progress, for the operator: per integration, how far its backfill has come (compared, written,
unchanged, failed, the sweeper runs it took), kept in the Ledger table's reserved ``~progress`` partition
and left in place when the backfill is done, so the last one can always be read
(``python -m calsync.cli.backfill``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

from pynamodb.expressions.update import Action

from calsync.store import _time
from calsync.store._errors import translated
from calsync.store.tables import BackfillProgressItem

PARTITION = "~progress"
"""Reserved ledger partition: integration ids never start with ``~``."""
COUNTERS = ("examined", "written", "removed", "unchanged", "failed", "busy", "batches")
RUNNING, DONE, STOPPED = "running", "done", "stopped"


@dataclass(frozen=True)
class Progress:
    integration_id: str
    state: str
    phase: str | None
    started_at: dt.datetime | None
    updated_at: dt.datetime | None
    finished_at: dt.datetime | None
    runs: int
    counts: Mapping[str, int]

    @property
    def elapsed(self) -> dt.timedelta | None:
        end = self.finished_at or self.updated_at
        return end - self.started_at if end and self.started_at else None

    def as_dict(self) -> dict[str, object]:
        seconds = self.elapsed.total_seconds() if self.elapsed is not None else None
        return {"integration_id": self.integration_id, "state": self.state, "phase": self.phase,
                "started_at": _iso(self.started_at), "updated_at": _iso(self.updated_at),
                "finished_at": _iso(self.finished_at), "runs": self.runs, **self.counts,
                "seconds": round(seconds, 1) if seconds is not None else None,
                "written_per_minute": round(self.counts.get("written", 0) * 60 / seconds, 1) if seconds else None}


def _iso(moment: dt.datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def start(integration_id: str, now: dt.datetime) -> None:
    """A new backfill of this integration begins: the counters start again from zero."""
    item = BackfillProgressItem(PARTITION, integration_id, state=RUNNING, phase="ledger", started_at=_time.epoch(now),
                                updated_at=_time.epoch(now), runs=0)
    for name in COUNTERS:
        setattr(item, name, 0)
    with translated("PutItem"):
        item.save()


def record(integration_id: str, now: dt.datetime, phase: str, counts: Mapping[str, int], *, new_run: bool) -> None:
    """Adds one step's counts (one write per page, not per item)."""
    actions: list[Action] = [BackfillProgressItem.updated_at.set(_time.epoch(now)),
                             BackfillProgressItem.phase.set(phase)]
    actions += [getattr(BackfillProgressItem, name).add(value) for name, value in counts.items() if value]
    if new_run:
        actions.append(BackfillProgressItem.runs.add(1))
    with translated("UpdateItem"):
        BackfillProgressItem(PARTITION, integration_id).update(actions=actions)


def finish(integration_id: str, now: dt.datetime, state: str = DONE) -> None:
    with translated("UpdateItem"):
        BackfillProgressItem(PARTITION, integration_id).update(actions=[
            BackfillProgressItem.state.set(state), BackfillProgressItem.finished_at.set(_time.epoch(now)),
            BackfillProgressItem.updated_at.set(_time.epoch(now))])


def get(integration_id: str) -> Progress | None:
    with translated("GetItem"):
        try:
            item = BackfillProgressItem.get(PARTITION, integration_id, consistent_read=True)
        except BackfillProgressItem.DoesNotExist:
            return None
    return Progress(integration_id=integration_id, state=item.state or RUNNING, phase=item.phase,
                    started_at=_time.moment(item.started_at), updated_at=_time.moment(item.updated_at),
                    finished_at=_time.moment(item.finished_at), runs=int(item.runs or 0),
                    counts={name: int(getattr(item, name) or 0) for name in COUNTERS})
