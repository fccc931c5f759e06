"""Connect links, the browser sessions they open, and OAuth states in flight.

Every secret is stored as its SHA-256 only (``calsync.domain.connect.digest``). Each item expires: its TTL
attribute lets DynamoDB remove it eventually, and every read checks the time itself, since DynamoDB may
keep an expired item for days.

* A link is claimed once: a conditional update that succeeds only while it is unclaimed and unexpired,
  and that stores the hash of the session secret the browser gets in a cookie.
* A state is taken once: a conditional DeleteItem that returns what it deleted, so of two callbacks with
  the same ``state`` (a replay, a double submit) exactly one gets it.
"""

from __future__ import annotations

import datetime as dt
import hmac
import json
from dataclasses import dataclass
from typing import Any

from pynamodb.exceptions import DeleteError, PutError, UpdateError

from calsync.store import _time
from calsync.store._errors import condition_failed, translated
from calsync.store.tables import ConnectLinkItem, OAuthStateItem


@dataclass(frozen=True)
class LinkRecord:
    link_hash: str
    tenant_id: str
    practitioner_id: str
    reconnect_id: str | None
    claimed: bool
    integration_id: str | None


@dataclass(frozen=True)
class Session:
    """A browser's session, opened by claiming a link: everything the page may act on."""

    link_hash: str
    tenant_id: str
    practitioner_id: str
    reconnect_id: str | None
    integration_id: str | None
    expires_at: dt.datetime


@dataclass(frozen=True)
class OAuthState:
    link_hash: str
    provider: str
    flow: dict[str, Any]
    choices: dict[str, Any]


def _record(item: ConnectLinkItem) -> LinkRecord:
    return LinkRecord(item.link_hash, item.tenant_id, item.practitioner_id, item.reconnect_id,
                      item.claimed_at is not None, item.integration_id)


def put_link(link_hash: str, tenant_id: str, practitioner_id: str, reconnect_id: str | None, now: dt.datetime,
             expires_at: dt.datetime) -> None:
    item = ConnectLinkItem(link_hash, tenant_id=tenant_id, practitioner_id=practitioner_id,
                           reconnect_id=reconnect_id, created_at=_time.epoch(now),
                           link_expires_at=_time.epoch(expires_at), expires_at=expires_at)
    with translated("PutItem"):
        item.save(condition=ConnectLinkItem.link_hash.does_not_exist())


def get_link(link_hash: str) -> LinkRecord | None:
    with translated("GetItem"):
        try:
            return _record(ConnectLinkItem.get(link_hash, consistent_read=True))
        except ConnectLinkItem.DoesNotExist:
            return None


def claim_link(link_hash: str, session_hash: str, now: dt.datetime, session_expires_at: dt.datetime) -> Session | None:
    """Claims an unclaimed, unexpired link for a new browser session; None when it was claimed already,
    has expired or does not exist (nothing changes then)."""
    item = ConnectLinkItem(link_hash)
    condition = (ConnectLinkItem.link_hash.exists() & ConnectLinkItem.claimed_at.does_not_exist()
                 & (ConnectLinkItem.link_expires_at > _time.epoch(now)))
    try:
        with translated("UpdateItem"):
            item.update(actions=[ConnectLinkItem.claimed_at.set(_time.epoch(now)),
                                 ConnectLinkItem.session_hash.set(session_hash),
                                 ConnectLinkItem.session_expires_at.set(_time.epoch(session_expires_at)),
                                 ConnectLinkItem.expires_at.set(session_expires_at)],
                        condition=condition)
    except UpdateError as error:
        if condition_failed(error):
            return None
        raise
    return _session(item)


def _session(item: ConnectLinkItem) -> Session:
    return Session(item.link_hash, item.tenant_id, item.practitioner_id, item.reconnect_id, item.integration_id,
                   _time.moment(item.session_expires_at or 0))


def session(link_hash: str, session_hash: str, now: dt.datetime) -> Session | None:
    """The live session whose cookie carries this link and secret; None otherwise."""
    with translated("GetItem"):
        try:
            item = ConnectLinkItem.get(link_hash, consistent_read=True)
        except ConnectLinkItem.DoesNotExist:
            return None
    if item.session_hash is None or not hmac.compare_digest(item.session_hash, session_hash):
        return None
    if item.session_expires_at is None or item.session_expires_at <= _time.epoch(now):
        return None
    return _session(item)


def record_integration(link_hash: str, integration_id: str) -> None:
    """The session connected this integration (its status page follows it)."""
    with translated("UpdateItem"):
        ConnectLinkItem(link_hash).update(actions=[ConnectLinkItem.integration_id.set(integration_id)],
                                          condition=ConnectLinkItem.link_hash.exists())


def put_state(state_hash: str, link_hash: str, provider: str, flow: dict[str, Any], choices: dict[str, Any],
              now: dt.datetime, expires_at: dt.datetime) -> None:
    item = OAuthStateItem(state_hash, link_hash=link_hash, provider=provider, flow=json.dumps(flow),
                          choices=json.dumps(choices), created_at=_time.epoch(now), expires_at=expires_at)
    try:
        with translated("PutItem"):
            item.save(condition=OAuthStateItem.state_hash.does_not_exist())
    except PutError as error:
        if condition_failed(error):  # 256 random bits met an existing state: refuse rather than overwrite
            raise ValueError("state collision") from None
        raise


def take_state(state_hash: str, now: dt.datetime) -> OAuthState | None:
    """Consumes the state: returns it once, and None to every later caller, and when it has expired."""
    connection = OAuthStateItem._get_connection()
    try:
        with translated("DeleteItem"):
            response = connection.delete_item(state_hash, condition=OAuthStateItem.state_hash.exists(),
                                              return_values="ALL_OLD")
    except DeleteError as error:
        if condition_failed(error):
            return None
        raise
    item = OAuthStateItem.from_raw_data(response["Attributes"])
    if item.expires_at is None or item.expires_at <= now:
        return None
    return OAuthState(item.link_hash, item.provider, json.loads(item.flow), json.loads(item.choices))
