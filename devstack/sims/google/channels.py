"""Google push notifications: ``events.watch`` channels, ``channels.stop``, and the notification POSTs.

``events.watch`` takes a Channel (validated against the discovery document): ``id`` (required, at most 64
characters, unique), ``type`` ``web_hook`` (or ``webhook``), ``address`` (https; plain http to a loopback
address only when :attr:`Channels.allow_http_loopback` is set, for local development), ``token`` (at most
256 characters), ``expiration`` (Unix ms) and ``params.ttl`` (seconds, default 604800). The channel lives
until the earlier of the two, capped at :attr:`Channels.max_ttl_seconds` (Google documents no maximum for
events; about 30 days is commonly reported). The answer carries ``resourceId`` (stable per calendar),
``resourceUri`` and ``expiration``.

Each channel first gets a ``sync`` message (``X-Goog-Message-Number: 1``), then ``exists`` after every
change to the calendar's events, and ``not_exists`` when the calendar is deleted: an empty POST with
``X-Goog-Channel-ID``, ``X-Goog-Message-Number`` (increasing, not sequential), ``X-Goog-Resource-ID``,
``X-Goog-Resource-State``, ``X-Goog-Resource-URI``, ``X-Goog-Channel-Expiration`` (an HTTP date) and
``X-Goog-Channel-Token`` when set. An expired or stopped channel sends nothing. ``channels.stop`` needs
``id`` and ``resourceId`` and the same OAuth client and user that created the channel.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import random
from dataclasses import dataclass
from email.utils import format_datetime
from typing import Any
from urllib.parse import urlsplit

from devstack.sims.google.schema import Invalid, check_body, error
from devstack.sims.google.store import Calendar
from devstack.sims.http import Clock, SimResponse
from devstack.sims.oauth import Grant
from devstack.sims.push import Notification, Outbox, is_loopback_url

DEFAULT_TTL_SECONDS = 604800
USER_AGENT = "APIs-Google; (+https://developers.google.com/webmasters/APIs-Google.html)"


@dataclass
class Channel:
    id: str
    resource_id: str
    resource_uri: str
    calendar_id: str
    address: str
    token: str | None
    expiration_ms: int
    client_id: str
    subject: str
    message_number: int = 0
    stopped: bool = False


class Channels:
    """The channels of one simulator, and the notifications they send."""

    def __init__(self, clock: Clock, outbox: Outbox, api_base: Any) -> None:
        self.clock = clock
        self.outbox = outbox
        self._api_base = api_base
        self.allow_http_loopback = False
        self.max_ttl_seconds = 30 * 86400
        self.channels: dict[str, Channel] = {}
        self._random = random.Random(7)

    def clear(self) -> None:
        self.channels.clear()
        self.allow_http_loopback = False
        self._random = random.Random(7)

    def resource_id(self, calendar_id: str) -> str:
        return hashlib.sha1(calendar_id.encode()).hexdigest()[:27]  # noqa: S324 - an opaque id, not security

    def live(self, calendar_id: str | None = None) -> list[Channel]:
        now_ms = self.clock.now() * 1000
        return [c for c in self.channels.values() if not c.stopped and c.expiration_ms > now_ms
                and calendar_id in (None, c.calendar_id)]

    # -- the API ------------------------------------------------------------------------------------

    def watch(self, body: Any, calendar: Calendar, grant: Grant) -> SimResponse:
        check_body(body, "Channel")
        channel_id, address, token = body.get("id"), body.get("address"), body.get("token")
        if not channel_id:
            raise Invalid("Missing channel id.", "required")
        if len(channel_id) > 64:
            raise Invalid("Channel id must be at most 64 characters.")
        if channel_id in self.channels:
            return error(400, "channelIdNotUnique", f"Channel id {channel_id} not unique")
        if body.get("type") not in ("web_hook", "webhook"):
            raise Invalid("Invalid channel type: only web_hook is supported.")
        if not address:
            raise Invalid("Missing channel address.", "required")
        scheme = urlsplit(address).scheme
        if scheme != "https" and not (scheme == "http" and self.allow_http_loopback and is_loopback_url(address)):
            raise Invalid(f"WebHook callback must be HTTPS: {address}", "push.webhookUrlNotHttps")
        if token is not None and len(token) > 256:
            raise Invalid("Channel token must be at most 256 characters.")
        now_ms = int(self.clock.now() * 1000)
        ttl = (body.get("params") or {}).get("ttl")
        try:
            ttl_ms = int(ttl) * 1000 if ttl is not None else DEFAULT_TTL_SECONDS * 1000
            wanted = int(body["expiration"]) if body.get("expiration") is not None else None
        except ValueError:
            raise Invalid("Invalid channel expiration or ttl.") from None
        if wanted is not None and wanted <= now_ms:
            raise Invalid("Channel expiration must be in the future.")
        expiration = min(now_ms + ttl_ms, now_ms + self.max_ttl_seconds * 1000, wanted or now_ms + ttl_ms)
        channel = Channel(channel_id, self.resource_id(calendar.id),
                          f"{self._api_base()}/calendars/{calendar.id}/events?alt=json", calendar.id, address, token,
                          expiration, grant.client_id, grant.subject)
        self.channels[channel_id] = channel
        self._notify(channel, "sync")
        answer = {"kind": "api#channel", "id": channel.id, "resourceId": channel.resource_id,
                  "resourceUri": channel.resource_uri, "expiration": str(channel.expiration_ms)}
        return SimResponse(200, answer | ({"token": token} if token is not None else {}))

    def stop(self, body: Any, grant: Grant) -> SimResponse:
        check_body(body, "Channel")
        if not body.get("id") or not body.get("resourceId"):
            raise Invalid("channels.stop needs the channel id and resourceId.", "required")
        channel = self.channels.get(body["id"])
        if channel is None or channel not in self.live() or channel.resource_id != body["resourceId"] \
                or channel.client_id != grant.client_id:
            return error(404, "notFound", f"Channel '{body['id']}' not found for project")
        if channel.subject != grant.subject:
            return error(403, "forbidden", "Only the user who created the channel may stop it.")
        channel.stopped = True
        return SimResponse(204)

    # -- notifications ------------------------------------------------------------------------------

    def changed(self, calendar: Calendar) -> None:
        """Called by the store after every change: ``exists`` (or ``not_exists`` once deleted)."""
        for channel in self.live(calendar.id):
            self._notify(channel, "not_exists" if calendar.deleted else "exists")
            if calendar.deleted:
                channel.stopped = True

    def _notify(self, channel: Channel, state: str) -> None:
        channel.message_number = 1 if state == "sync" else channel.message_number + self._random.randint(1, 3)
        expires = dt.datetime.fromtimestamp(channel.expiration_ms / 1000, dt.UTC)
        headers = {"X-Goog-Channel-ID": channel.id, "X-Goog-Message-Number": str(channel.message_number),
                   "X-Goog-Resource-ID": channel.resource_id, "X-Goog-Resource-State": state,
                   "X-Goog-Resource-URI": channel.resource_uri,
                   "X-Goog-Channel-Expiration": format_datetime(expires, usegmt=True),
                   "User-Agent": USER_AGENT, "Content-Length": "0"}
        if channel.token is not None:
            headers["X-Goog-Channel-Token"] = channel.token
        self.outbox.send(Notification(channel.address, headers, b"", channel.id, state))

    def snapshot(self) -> list[Channel]:
        return [dataclasses.replace(c) for c in self.channels.values()]
