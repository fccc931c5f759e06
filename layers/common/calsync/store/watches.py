"""Push channels (Google) and subscriptions (Graph): one item per watched calendar, keyed by the id calsync
chose, holding the channel's secret only as its SHA-256 (see ``tables.WatchItem``)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from pynamodb.exceptions import UpdateError

from calsync.store import _time
from calsync.store._errors import condition_failed, translated
from calsync.store.tables import WatchItem

KEEP_AFTER_END = dt.timedelta(days=1)


@dataclass(frozen=True)
class StoredWatch:
    watch_id: str
    integration_id: str
    provider: str
    calendar: str
    token_hash: str
    resource_id: str | None
    ends_at: dt.datetime
    created_at: dt.datetime

    def live(self, now: dt.datetime) -> bool:
        return self.ends_at > now


def _domain(item: WatchItem) -> StoredWatch:
    return StoredWatch(item.watch_id, item.integration_id, item.provider, item.calendar, item.token_hash,
                       item.resource_id, _time.moment(item.ends_at), _time.moment(item.created_at))


def create(watch: StoredWatch) -> None:
    """Records a channel before the provider is asked for it: its first notification may come before the
    provider's answer, and must find it."""
    item = WatchItem(watch.watch_id, integration_id=watch.integration_id, provider=watch.provider,
                     calendar=watch.calendar, token_hash=watch.token_hash, ends_at=_time.epoch(watch.ends_at),
                     created_at=_time.epoch(watch.created_at), expires_at=watch.ends_at + KEEP_AFTER_END)
    with translated("PutItem"):
        item.save(condition=WatchItem.watch_id.does_not_exist())


def started(watch_id: str, resource_id: str | None, ends_at: dt.datetime) -> None:
    """What the provider answered: its id for the channel, and when it really ends."""
    with translated("UpdateItem"):
        WatchItem(watch_id).update(actions=[
            WatchItem.resource_id.set(resource_id) if resource_id else WatchItem.resource_id.remove(),
            WatchItem.ends_at.set(_time.epoch(ends_at)), WatchItem.expires_at.set(ends_at + KEEP_AFTER_END)],
            condition=WatchItem.watch_id.exists())


def get(watch_id: str) -> StoredWatch | None:
    with translated("GetItem"):
        try:
            return _domain(WatchItem.get(watch_id, consistent_read=True))
        except WatchItem.DoesNotExist:
            return None


def of_integration(integration_id: str) -> list[StoredWatch]:
    """The integration's channels (the ``by_integration`` index; eventually consistent)."""
    with translated("Query"):
        return [_domain(item) for item in WatchItem.by_integration.query(integration_id)]


def newer_message(watch_id: str, number: int) -> bool:
    """Records a notification's message number; False when it is not newer than one already seen (a
    replay, or a retry that lost the race)."""
    condition = WatchItem.watch_id.exists() & (WatchItem.last_message.does_not_exist()
                                               | (WatchItem.last_message < number))
    try:
        with translated("UpdateItem"):
            WatchItem(watch_id).update(actions=[WatchItem.last_message.set(number)], condition=condition)
    except UpdateError as error:
        if condition_failed(error):
            return False
        raise
    return True


def delete(watch_id: str) -> None:
    with translated("DeleteItem"):
        WatchItem(watch_id).delete()
