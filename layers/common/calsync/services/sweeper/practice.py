"""Job 4b, practice resyncs: every appointment of one practice in a window compared with every calendar that
should show it or holds it, and those behind synced — an operator's ``calsync resync practice``, run in the
foreground by the CLI and, if it is interrupted or left, finished by the sweeper from the stored cursor.

The task's name carries what it covers (``resync-practice#<tenant>#<practice>#<past days>:<future days>``),
so scheduling it again restarts it from the beginning and nothing else has to be stored.
"""

from __future__ import annotations

import datetime as dt

from calsync.domain.model import Integration
from calsync.services.sweeper.context import PAGE, Cursor, Run
from calsync.store import appointments, sweeps

PRACTICE_PREFIX = "resync-practice#"


def practice_task(tenant_id: str, practice_id: str, past_days: int, future_days: int) -> str:
    return f"{PRACTICE_PREFIX}{tenant_id}#{practice_id}#{past_days}:{future_days}"


def practice_window(task_name: str, now: dt.datetime) -> tuple[str, dt.datetime, dt.datetime]:
    """The owner key (``tenant#practice:id``) and the window a task covers, from its name."""
    tenant_id, practice_id, days = task_name.removeprefix(PRACTICE_PREFIX).split("#")
    past, _, future = days.partition(":")
    return (f"{tenant_id}#practice:{practice_id}", now - dt.timedelta(days=int(past)),
            now + dt.timedelta(days=int(future)))


def resync_practice(run: Run, integration: Integration | None, task: sweeps.Task) -> Cursor | None:
    owner, start, end = practice_window(task.name, run.now)
    token = (task.cursor or {}).get("after")
    while run.budget.can_sync():
        page, more = appointments.window_page(owner, start, end, token, PAGE)
        received = appointments.get_many(key for key, _ in page)
        run.budget.read(max(1, 2 * len(page)))
        for key, resume in page:
            if not run.budget.can_sync():
                return {"after": token}
            found = received.get(key)
            if found is not None and start <= found.appointment.start < end:
                run.report.resynced += sum(1 for _, _, outcome in run.bring_in_step(found) if outcome is not None)
            token = resume
        if not more:
            return None
    return {"after": token}
