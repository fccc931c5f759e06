"""ICS feeds: serving state, hashed URL tokens and pre-rendered VEVENTs (see ``calsync.feed``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from pynamodb.exceptions import PutError, UpdateError
from pynamodb.expressions.update import Action

from calsync.domain.feed import FeedState, FeedToken, Rendered
from calsync.store import _time
from calsync.store._errors import condition_failed, translated
from calsync.store._paging import one_page
from calsync.store.tables import ByStartIndex, FeedEventItem, FeedItem, FeedTokenItem

TOMBSTONE_RETENTION = dt.timedelta(days=1)
REVOKED_TOKEN_RETENTION = dt.timedelta(days=400)
"""How long a revoked token keeps answering 410 (then 404): long enough for every subscriber to notice."""


# -- feed state ---------------------------------------------------------------------------------------


def touch(feed_id: str, tenant_id: str, name: str, past_days: int, future_days: int, now: dt.datetime,
          zone: str | None = None) -> None:
    """Records a change of the feed (creating its state if new): the version grows, ``updated_at``
    moves to ``now``, the settings are refreshed, and ``zone`` joins the zones the header describes."""
    actions: list[Action] = [
        FeedItem.tenant_id.set(tenant_id),
        FeedItem.name.set(name),
        FeedItem.past_days.set(past_days),
        FeedItem.future_days.set(future_days),
        FeedItem.updated_at.set(_time.epoch(now)),
        FeedItem.version.add(1),
    ]
    if zone is not None:
        actions.append(FeedItem.zones.add({zone}))
    with translated("UpdateItem"):
        FeedItem(feed_id).update(actions=actions)


def get_state(feed_id: str) -> FeedState | None:
    """The feed's serving state (eventually consistent: a change shows within about a second)."""
    with translated("GetItem"):
        try:
            item = FeedItem.get(feed_id)
        except FeedItem.DoesNotExist:
            return None
    rendered = None
    if (item.rendered_etag is not None and item.rendered_size is not None and item.rendered_gzip_size is not None
            and item.rendered_wire is not None):
        rendered = Rendered(etag=item.rendered_etag, size=int(item.rendered_size),
                            gzip_size=int(item.rendered_gzip_size), plain_wire=int(item.rendered_wire),
                            object_etag=item.rendered_object_etag)
    return FeedState(
        feed_id=item.feed_id,
        tenant_id=item.tenant_id,
        name=item.name,
        past_days=int(item.past_days),
        future_days=int(item.future_days),
        version=int(item.version),
        updated_at=_time.moment(item.updated_at),
        zones=frozenset(item.zones or ()),
        rendered=rendered,
    )


def record_rendered(feed_id: str, version: int, rendered: Rendered) -> bool:
    """Notes which document's body is cached, unless the feed changed since it was rendered (a stale
    render must not claim the slot of a newer one). False when it had."""
    actions: list[Action] = [
        FeedItem.rendered_etag.set(rendered.etag),
        FeedItem.rendered_size.set(rendered.size),
        FeedItem.rendered_gzip_size.set(rendered.gzip_size),
        FeedItem.rendered_wire.set(rendered.plain_wire),
        FeedItem.rendered_object_etag.set(rendered.object_etag) if rendered.object_etag
        else FeedItem.rendered_object_etag.remove(),
    ]
    try:
        with translated("UpdateItem"):
            FeedItem(feed_id).update(actions=actions, condition=FeedItem.version == version)
    except UpdateError as error:
        if condition_failed(error):
            return False
        raise
    return True


def delete_state(feed_id: str) -> None:
    with translated("DeleteItem"):
        FeedItem(feed_id).delete()


# -- tokens -------------------------------------------------------------------------------------------


def _token(item: FeedTokenItem) -> FeedToken:
    created = _time.moment(item.created_at)
    assert created is not None
    return FeedToken(token_id=item.token_id, feed_id=item.feed_id, tenant_id=item.tenant_id,
                     created_at=created, revoked_at=_time.moment(item.revoked_at))


def add_token(token_hash: str, token_id: str, feed_id: str, tenant_id: str, now: dt.datetime) -> None:
    item = FeedTokenItem(token_hash, token_id=token_id, feed_id=feed_id, tenant_id=tenant_id,
                         created_at=_time.epoch(now))
    with translated("PutItem"):
        item.save(condition=FeedTokenItem.token_hash.does_not_exist())


@dataclass(frozen=True)
class Admission:
    """A request for a feed URL: the token it names (None: unknown), and, when the token has used up its
    requests of this window, how many seconds until the next window."""

    token: FeedToken | None
    retry_after: int | None = None


def admit(token_hash: str, now: dt.datetime, limit: int, window_seconds: int) -> Admission:
    """Counts one request against the token's allowance and returns the token, in one conditional
    update of the token's own item (so one leaked URL polled hard slows down only itself).

    Usually one write: the count of the current window goes up. The first request of a window starts a
    new count (a second write); only a refused or unknown token costs a third call, a read."""
    epoch = _time.epoch(now)
    window = epoch - epoch % window_seconds
    known = FeedTokenItem.token_hash.exists()
    attempts: list[tuple[list[Action], Any]] = [
        ([FeedTokenItem.window_count.add(1)],
         known & (FeedTokenItem.window_start == window) & (FeedTokenItem.window_count < limit)),
        ([FeedTokenItem.window_start.set(window), FeedTokenItem.window_count.set(1)],
         known & (FeedTokenItem.window_start.does_not_exist() | (FeedTokenItem.window_start != window))),
    ]
    for actions, condition in attempts:
        item = FeedTokenItem(token_hash)
        try:
            with translated("UpdateItem"):
                item.update(actions=actions, condition=condition)
        except UpdateError as error:
            if condition_failed(error):
                continue
            raise
        return Admission(_token(item))
    found = find_token(token_hash)
    return Admission(found, retry_after=window + window_seconds - epoch if found is not None else None)


def find_token(token_hash: str) -> FeedToken | None:
    """The token with this hash (strongly consistent, so a revocation takes effect at once)."""
    with translated("GetItem"):
        try:
            return _token(FeedTokenItem.get(token_hash, consistent_read=True))
        except FeedTokenItem.DoesNotExist:
            return None


def _token_items(feed_id: str) -> Iterator[FeedTokenItem]:
    with translated("Query"):
        yield from FeedTokenItem.by_feed.query(feed_id)


def list_tokens(feed_id: str) -> list[FeedToken]:
    """Every token of a feed, revoked ones included (the index lags writes by about a second)."""
    return [_token(item) for item in _token_items(feed_id)]


def revoke_token(feed_id: str, token_id: str, now: dt.datetime) -> bool:
    """Revokes one token of ``feed_id``. False when there is no such live token."""
    revoked = False
    for item in _token_items(feed_id):
        if item.token_id != token_id:
            continue
        condition = (FeedTokenItem.feed_id == feed_id) & FeedTokenItem.revoked_at.does_not_exist()
        try:
            with translated("UpdateItem"):
                FeedTokenItem(item.token_hash).update(
                    actions=[FeedTokenItem.revoked_at.set(_time.epoch(now)),
                             FeedTokenItem.expires_at.set(now + REVOKED_TOKEN_RETENTION)],
                    condition=condition,
                )
        except UpdateError as error:
            if condition_failed(error):
                continue
            raise
        revoked = True
    return revoked


# -- pre-rendered events ------------------------------------------------------------------------------


def save_event(feed_id: str, appointment_key: str, vevent: str, start_utc: str, sequence: int,
               expires_at: dt.datetime) -> bool:
    """Stores one VEVENT unless the stored one has the same or a later SEQUENCE. False in that case."""
    item = FeedEventItem(feed_id, appointment_key, start_utc=start_utc, vevent=vevent, sequence=sequence,
                         expires_at=expires_at)
    older = FeedEventItem.appointment_key.does_not_exist() | (FeedEventItem.sequence < sequence)
    try:
        with translated("PutItem"):
            item.save(condition=older)
    except PutError as error:
        if condition_failed(error):
            return False
        raise
    return True


def stored_sequence(feed_id: str, appointment_key: str) -> int | None:
    with translated("GetItem"):
        try:
            item = FeedEventItem.get(feed_id, appointment_key, consistent_read=True,
                                     attributes_to_get=["sequence"])
        except FeedEventItem.DoesNotExist:
            return None
    return int(item.sequence)


def delete_event(feed_id: str, appointment_key: str, now: dt.datetime) -> None:
    """Takes one VEVENT off the feed; removing one that is not there is not an error.

    The item stays for a day as a tombstone: without ``start_utc`` it is out of the ``by_start`` index
    (so never served), but its ``sequence`` still guards a re-booking within the same second."""
    try:
        with translated("UpdateItem"):
            FeedEventItem(feed_id, appointment_key).update(
                actions=[FeedEventItem.start_utc.remove(), FeedEventItem.vevent.remove(),
                         FeedEventItem.expires_at.set(now + TOMBSTONE_RETENTION)],
                condition=FeedEventItem.appointment_key.exists(),
            )
    except UpdateError as error:
        if not condition_failed(error):
            raise


def window_page(feed_id: str, start_utc: str, end_utc: str, after: dict[str, str] | None,
                limit: int) -> tuple[list[str], dict[str, str] | None]:
    """One page (at most ``limit`` items read) of the VEVENTs starting in [start_utc, end_utc), in start
    order, strongly consistent; and where the next page starts (None: the window is done)."""
    condition = ByStartIndex.start_utc.between(start_utc, end_utc)
    start_key = {name: {"S": value} for name, value in after.items()} if after else None
    with translated("Query"):
        items, last = one_page(FeedEventItem.by_start.query(feed_id, range_key_condition=condition,
                                                             consistent_read=True, last_evaluated_key=start_key,
                                                             page_size=max(1, limit)), FeedEventItem)
    vevents = [item.vevent for item in items if item.start_utc < end_utc and item.vevent is not None]
    resume = {name: value["S"] for name, value in last.items()} if last else None
    return vevents, resume


def purge_events(feed_id: str) -> int:
    """Deletes every stored VEVENT of a feed (when the feed itself is deleted). Returns how many."""
    removed = 0
    with translated("BatchWriteItem"), FeedEventItem.batch_write() as batch:
        for item in FeedEventItem.query(feed_id, attributes_to_get=["feed_id", "appointment_key"]):
            batch.delete(item)
            removed += 1
    return removed
