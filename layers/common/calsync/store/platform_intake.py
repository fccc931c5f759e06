"""Booking-platform intake state: one table (``calsync.store.tables.PlatformIntakeItem``), keyed by source
(``tenant#platform``) and a typed sort key.

    sort key               what it holds                                          kept
    source                 the source's settings (calsync.platforms.source, JSON) until removed
    poll                   a polled calendar export: validators (ETag,            until removed
                           Last-Modified), consecutive failures, next poll
    delivery#<event id>    a webhook delivery seen: claimed, then done            DELIVERY_RETENTION
    state#<booking>        digest of the state last published (platforms whose    RECORD_RETENTION
                           webhooks carry no event id to de-duplicate on)
    lineage#<booking>      the appointment a rescheduled booking continues        RECORD_RETENTION
    held#<booking>         a reschedule's cancel, held until its new booking      DELIVERY_RETENTION
                           arrives (the cancelled detail, JSON)
    fetch#<booking>        a fetch-back the platform could not answer yet         until done or given up
    ics#<uid>              one event of a polled export: digest, publication      RECORD_RETENTION
                           time, start

Items the sweeper has to come back to carry ``due_bucket`` (their kind) and ``due_at``; the sparse ``due``
index lists them oldest first. Everything here is keyed by platform ids and digests; the only patient data
is a held cancel's detail, kept at most a week in a table encrypted with the stack's key.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from pynamodb.expressions.update import Action

from calsync.store import _time
from calsync.store._errors import conditional, translated
from calsync.store.tables import PlatformIntakeItem

DELIVERY_RETENTION = dt.timedelta(days=7)
"""Longer than any platform keeps redelivering (Square and HubSpot: about a day; Salesforce: 24 h), so a
redelivery or replay of an accepted webhook is always recognised."""
RECORD_RETENTION = dt.timedelta(days=400)


class Kind(StrEnum):
    SOURCE = "source"
    POLL = "poll"
    DELIVERY = "delivery"
    STATE = "state"
    LINEAGE = "lineage"
    HELD = "held"
    FETCH = "fetch"
    ICS = "ics"


@dataclass(frozen=True)
class Record:
    tenant_id: str
    platform: str
    kind: Kind
    name: str
    body: dict[str, Any] | None
    digest: str | None
    attempts: int
    due_at: dt.datetime | None


def _pk(tenant_id: str, platform: str) -> str:
    return f"{tenant_id}#{platform}"


def _sk(kind: Kind, name: str) -> str:
    return f"{kind.value}#{name}" if name else kind.value


def _record(item: PlatformIntakeItem) -> Record:
    tenant_id, _, platform = item.pk.rpartition("#")
    kind, _, name = item.sk.partition("#")
    return Record(tenant_id=tenant_id, platform=platform, kind=Kind(kind), name=name,
                  body=json.loads(item.body) if item.body else None, digest=item.digest,
                  attempts=int(item.attempts or 0), due_at=_time.moment(item.due_at))


def get(tenant_id: str, platform: str, kind: Kind, name: str = "") -> Record | None:
    """One item, strongly consistent."""
    with translated("GetItem"):
        try:
            return _record(PlatformIntakeItem.get(_pk(tenant_id, platform), _sk(kind, name), consistent_read=True))
        except PlatformIntakeItem.DoesNotExist:
            return None


def put(tenant_id: str, platform: str, kind: Kind, name: str = "", *, body: dict[str, Any] | None = None,
        digest: str | None = None, due: dt.datetime | None = None, attempts: int | None = None,
        keep: dt.timedelta | None = None, now: dt.datetime | None = None) -> None:
    """Creates or replaces an item; ``due`` puts it on the sweeper's list, ``keep`` lets it expire."""
    item = PlatformIntakeItem(
        _pk(tenant_id, platform), _sk(kind, name),
        body=json.dumps(body, sort_keys=True, separators=(",", ":")) if body is not None else None,
        digest=digest, attempts=attempts,
        due_bucket=kind.value if due is not None else None,
        due_at=_time.epoch(due) if due is not None else None,
        expires_at=(now or dt.datetime.now(dt.UTC)) + keep if keep is not None else None,
    )
    with translated("PutItem"):
        item.save()


def delete(tenant_id: str, platform: str, kind: Kind, name: str = "") -> None:
    with translated("DeleteItem"):
        PlatformIntakeItem(_pk(tenant_id, platform), _sk(kind, name)).delete()


def take(tenant_id: str, platform: str, kind: Kind, name: str) -> Record | None:
    """Removes an item and returns what it held; None when it was not there (or another caller took it)."""
    found = get(tenant_id, platform, kind, name)
    item = PlatformIntakeItem(_pk(tenant_id, platform), _sk(kind, name))
    if found is None or not conditional("DeleteItem", lambda: item.delete(condition=PlatformIntakeItem.sk.exists())):
        return None
    return found


def list_kind(tenant_id: str, platform: str, kind: Kind) -> Iterator[Record]:
    """Every item of one kind of one source (e.g. the events known from a polled export)."""
    with translated("Query"):
        for item in PlatformIntakeItem.query(_pk(tenant_id, platform),
                                             PlatformIntakeItem.sk.startswith(f"{kind.value}#"),
                                             consistent_read=True):
            yield _record(item)


# -- deliveries: the replay and redelivery guard -------------------------------------------------------


def claim_delivery(tenant_id: str, platform: str, event_id: str, now: dt.datetime, lease_seconds: int = 60) -> bool:
    """Records a delivery as being worked on. False when it was seen before: done, or claimed by an
    invocation that is still within its lease (one that crashed loses its claim after ``lease_seconds``)."""
    epoch = _time.epoch(now)
    item = PlatformIntakeItem(_pk(tenant_id, platform), _sk(Kind.DELIVERY, event_id), state="claimed",
                              lease_until=epoch + lease_seconds, expires_at=now + DELIVERY_RETENTION)
    abandoned = (PlatformIntakeItem.state == "claimed") & (PlatformIntakeItem.lease_until < epoch)
    return conditional("PutItem", lambda: item.save(condition=PlatformIntakeItem.sk.does_not_exist() | abandoned))


def finish_delivery(tenant_id: str, platform: str, event_id: str) -> None:
    with translated("UpdateItem"):
        PlatformIntakeItem(_pk(tenant_id, platform), _sk(Kind.DELIVERY, event_id)).update(
            actions=[PlatformIntakeItem.state.set("done"), PlatformIntakeItem.lease_until.remove()])


def release_delivery(tenant_id: str, platform: str, event_id: str) -> None:
    """Forgets a claimed delivery whose processing failed, so the platform's redelivery is worked on."""
    item = PlatformIntakeItem(_pk(tenant_id, platform), _sk(Kind.DELIVERY, event_id))
    conditional("DeleteItem", lambda: item.delete(condition=PlatformIntakeItem.state == "claimed"))


# -- published state: de-duplication where a platform sends no event id ---------------------------------


def replace_digest(tenant_id: str, platform: str, booking: str, digest: str, expected: str | None,
                   now: dt.datetime) -> bool:
    """Stores ``digest`` as the booking's last published state if the stored one is still ``expected``
    (None: nothing stored). False when another invocation changed it first."""
    item = PlatformIntakeItem(_pk(tenant_id, platform), _sk(Kind.STATE, booking), digest=digest,
                              expires_at=now + RECORD_RETENTION)
    condition = (PlatformIntakeItem.sk.does_not_exist() if expected is None
                 else PlatformIntakeItem.digest == expected)
    return conditional("PutItem", lambda: item.save(condition=condition))


# -- the sweeper's list ----------------------------------------------------------------------------------


def due(kind: Kind, now: dt.datetime, limit: int) -> list[tuple[str, str, str]]:
    """(tenant, platform, name) of up to ``limit`` items of ``kind`` due by ``now``, oldest first."""
    with translated("Query"):
        items = PlatformIntakeItem.due.query(kind.value, PlatformIntakeItem.due_at <= _time.epoch(now),
                                             limit=max(1, limit))
        found = []
        for item in items:
            tenant_id, _, platform = item.pk.rpartition("#")
            found.append((tenant_id, platform, item.sk.partition("#")[2]))
    return found


def claim_due(tenant_id: str, platform: str, kind: Kind, name: str, now: dt.datetime,
              lease_seconds: int) -> Record | None:
    """Pushes a due item ``lease_seconds`` into the future, so an overlapping run skips it; returns the
    item, or None when it is not due (any more) or gone."""
    epoch = _time.epoch(now)
    item = PlatformIntakeItem(_pk(tenant_id, platform), _sk(kind, name))
    claimed = conditional("UpdateItem", lambda: item.update(
        actions=[PlatformIntakeItem.due_at.set(epoch + lease_seconds)],
        condition=PlatformIntakeItem.sk.exists() & (PlatformIntakeItem.due_at <= epoch)))
    return _record(item) if claimed else None


def reschedule(tenant_id: str, platform: str, kind: Kind, name: str, *, due: dt.datetime | None,
               attempts: int | None = None, body: dict[str, Any] | None = None) -> None:
    """Sets when the sweeper comes back (None: never), and the attempts and body it carries."""
    actions: list[Action] = []
    if due is None:
        actions += [PlatformIntakeItem.due_bucket.remove(), PlatformIntakeItem.due_at.remove()]
    else:
        actions += [PlatformIntakeItem.due_bucket.set(kind.value), PlatformIntakeItem.due_at.set(_time.epoch(due))]
    if attempts is not None:
        actions.append(PlatformIntakeItem.attempts.set(attempts))
    if body is not None:
        actions.append(PlatformIntakeItem.body.set(json.dumps(body, sort_keys=True, separators=(",", ":"))))
    with translated("UpdateItem"):
        PlatformIntakeItem(_pk(tenant_id, platform), _sk(kind, name)).update(actions=actions)
