"""Graph change notifications: ``/subscriptions`` (create, list, get, renew, delete, reauthorize), the
validation handshake, change notifications and lifecycle notifications.

* ``POST /subscriptions``: the body is checked against Graph's Subscription schema; ``changeType``
  (``created``, ``updated``, ``deleted``, comma-separated), ``notificationUrl`` (https; http to loopback
  only with :attr:`Subscriptions.allow_http_loopback`), ``resource`` (``me/events``, ``me/calendar/events``,
  ``me/calendars/{id}/events``, or the ``users/{id}/...`` forms) and ``expirationDateTime`` (in the future,
  at most :attr:`Subscriptions.max_minutes` ahead: 10080 for Outlook events today, older documentation said
  4230) are required; ``clientState`` at most 128 characters; ``includeResourceData`` is not simulated
  (400). Before answering 201, Graph POSTs ``{url}?validationToken=...`` (``text/plain``) to the
  ``notificationUrl`` and the ``lifecycleNotificationUrl``; each must answer 200, ``text/plain``, with the
  URL-decoded token as the body, within :attr:`Subscriptions.validation_timeout` seconds (10), or the
  subscription is refused with 400.
* ``PATCH /subscriptions/{id}`` renews (``expirationDateTime``; a new ``notificationUrl`` is validated
  again), ``POST .../reauthorize`` answers 204; both resume a subscription paused by
  ``reauthorizationRequired``. ``DELETE`` answers 204. Past its expiration a subscription is gone (404).
* Change notifications: ``{"value": [{subscriptionId, subscriptionExpirationDateTime, changeType, resource,
  resourceData{@odata.type, @odata.id, @odata.etag, id}, clientState, tenantId}]}`` POSTed to the
  notification URL (its query string kept) for every matching change; a non-2xx answer or none within 3 s
  is retried.
* Lifecycle notifications, on demand (:meth:`Subscriptions.lifecycle`): ``reauthorizationRequired`` (change
  notifications pause until reauthorize or renew), ``subscriptionRemoved`` (the subscription is deleted),
  ``missed``; ``{"value": [{subscriptionId, subscriptionExpirationDateTime, tenantId, clientState,
  lifecycleEvent}]}`` to the ``lifecycleNotificationUrl`` (none is sent without one).
"""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

from devstack.sims.http import Clock, Deferred, SimResponse
from devstack.sims.microsoft.mailbox import Mailbox, Mailboxes
from devstack.sims.microsoft.schema import problems
from devstack.sims.microsoft.views import BadRequest, graph_error
from devstack.sims.oauth import Grant
from devstack.sims.push import Notification, Outbox, is_loopback_url

CHANGE_TYPES = {"created", "updated", "deleted"}
LIFECYCLE_EVENTS = {"reauthorizationRequired", "subscriptionRemoved", "missed"}
_RESOURCE = re.compile(r"^/?(?:(?P<me>me)|users/(?P<user>[^/]+))/(?:events|(?P<default>calendar)/events|"
                       r"calendars/(?P<calendar>[^/]+)/events)$", re.IGNORECASE)
JSON = {"Content-Type": "application/json; charset=utf-8"}


@dataclass
class Subscription:
    id: str
    resource: str
    change_types: set[str]
    notification_url: str
    lifecycle_url: str | None
    client_state: str | None
    expiration: dt.datetime
    client_id: str
    subject: str
    mailbox: str
    calendar: str | None
    tenant: str
    creator_id: str
    paused: bool = False

    def body(self) -> dict[str, Any]:
        return {"id": self.id, "resource": self.resource, "applicationId": self.client_id,
                "changeType": ",".join(sorted(self.change_types)), "clientState": self.client_state,
                "notificationUrl": self.notification_url, "notificationQueryOptions": None,
                "lifecycleNotificationUrl": self.lifecycle_url, "expirationDateTime": iso(self.expiration),
                "creatorId": self.creator_id, "includeResourceData": False, "latestSupportedTlsVersion": "v1_2",
                "encryptionCertificate": None, "encryptionCertificateId": None, "notificationUrlAppId": None}


def iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat(timespec="microseconds").replace("+00:00", "0Z")


class Subscriptions:
    def __init__(self, clock: Clock, mailboxes: Mailboxes, outbox: Outbox, lock: Any) -> None:
        self.clock, self.mailboxes, self.outbox, self._lock = clock, mailboxes, outbox, lock
        self.subscriptions: dict[str, Subscription] = {}
        self.allow_http_loopback = False
        self.max_minutes = 10080
        self.validation_timeout = 10.0

    def clear(self) -> None:
        self.subscriptions.clear()
        self.allow_http_loopback = False
        self.max_minutes = 10080
        self.validation_timeout = 10.0

    def now(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.clock.now(), dt.UTC)

    def live(self) -> list[Subscription]:
        now = self.now()
        return [s for s in self.subscriptions.values() if s.expiration > now]

    def owned(self, subscription_id: str, grant: Grant) -> Subscription | None:
        found = self.subscriptions.get(subscription_id)
        if found is None or found.expiration <= self.now() or found.client_id != grant.client_id or (
                not grant.application and found.subject != grant.subject):
            return None
        return found

    # -- the API ------------------------------------------------------------------------------------

    def create(self, body: Any, grant: Grant, mailbox_of: Any) -> SimResponse | Deferred:
        found = problems(body, "Subscription")
        if found:
            raise BadRequest("RequestBodyRead", found[0])
        for name in ("changeType", "notificationUrl", "resource", "expirationDateTime"):
            if not body.get(name):
                raise BadRequest("InvalidRequest", f"The {name} property is required.")
        changes = {c.strip() for c in str(body["changeType"]).split(",")}
        if not changes <= CHANGE_TYPES:
            raise BadRequest("InvalidRequest", "changeType must be created, updated and/or deleted.")
        if body.get("includeResourceData"):
            raise BadRequest("InvalidRequest", "includeResourceData is not supported for this resource.")
        if len(body.get("clientState") or "") > 128:
            raise BadRequest("InvalidRequest", "clientState must be at most 128 characters.")
        self._check_url(body["notificationUrl"])
        if body.get("lifecycleNotificationUrl"):
            self._check_url(body["lifecycleNotificationUrl"])
        expiration = self._expiration(body["expirationDateTime"])
        match = _RESOURCE.match(body["resource"])
        if match is None:
            raise BadRequest("InvalidRequest", "The resource is not supported for change notifications.")
        if match["me"] and grant.application:
            raise BadRequest("InvalidRequest", "/me is only valid with delegated authentication flow.")
        mailbox: Mailbox | SimResponse = mailbox_of(match["user"] or "me")
        if isinstance(mailbox, SimResponse):
            return mailbox
        if match["calendar"] and match["calendar"] not in mailbox.calendars:
            return graph_error(404, "ErrorItemNotFound", "The specified calendar was not found in the store.")
        calendar = mailbox.default_calendar if match["default"] else match["calendar"]
        urls = [u for u in (body["notificationUrl"], body.get("lifecycleNotificationUrl")) if u]
        subscription = Subscription(
            str(uuid.uuid4()), body["resource"], changes, body["notificationUrl"], body.get("lifecycleNotificationUrl"),
            body.get("clientState"), expiration, grant.client_id, grant.subject, mailbox.user, calendar,
            mailbox.tenant, mailbox.object_id if not grant.application else grant.client_id)

        def validate_then_create() -> SimResponse:
            problem = self._handshake(urls)
            if problem:
                return graph_error(400, "InvalidRequest", problem)
            with self._lock:
                self.subscriptions[subscription.id] = subscription
                return SimResponse(201, {"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#subscriptions"
                                                           "/$entity", **subscription.body()})

        return Deferred(validate_then_create)

    def update(self, subscription: Subscription, body: Any) -> SimResponse | Deferred:
        found = problems(body, "Subscription")
        if found or not isinstance(body, dict) or set(body) - {"expirationDateTime", "notificationUrl"}:
            raise BadRequest("InvalidRequest", found[0] if found else "Only expirationDateTime and notificationUrl "
                                                                      "can be updated.")
        expiration = self._expiration(body["expirationDateTime"]) if body.get("expirationDateTime") else None
        url = body.get("notificationUrl")
        if url:
            self._check_url(url)

        def apply() -> SimResponse:
            if url and url != subscription.notification_url:
                problem = self._handshake([url])
                if problem:
                    return graph_error(400, "InvalidRequest", problem)
            with self._lock:
                subscription.expiration = expiration or subscription.expiration
                subscription.notification_url = url or subscription.notification_url
                subscription.paused = False
                return SimResponse(200, subscription.body())

        return Deferred(apply)

    def _check_url(self, url: str) -> None:
        scheme = urlsplit(url).scheme
        if scheme != "https" and not (scheme == "http" and self.allow_http_loopback and is_loopback_url(url)):
            raise BadRequest("InvalidRequest", "The notification URL must be an https URL.")

    def _expiration(self, value: str) -> dt.datetime:
        try:
            moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise BadRequest("InvalidRequest", "expirationDateTime is not a valid date-time.") from None
        moment = moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
        if moment <= self.now():
            raise BadRequest("InvalidRequest", "Subscription expiration must be in the future.")
        if moment > self.now() + dt.timedelta(minutes=self.max_minutes):
            raise BadRequest("InvalidRequest",
                             f"Subscription expiration can only be {self.max_minutes} minutes in the future.")
        return moment

    def _handshake(self, urls: list[str]) -> str | None:
        """Graph's validation request to each URL (outside the lock): None when all answered right."""
        for url in urls:
            token = f"Validation: Testing client application reachability for subscription Request-Id: {uuid.uuid4()}"
            target = url + ("&" if urlsplit(url).query else "?") + urlencode({"validationToken": token})
            answer = self.outbox.call(target, {"Content-Type": "text/plain; charset=utf-8"}, b"",
                                      timeout=self.validation_timeout)
            if isinstance(answer, str):
                return ("Subscription validation request timed out." if answer == "timeout" else
                        "Subscription validation request failed. Notification endpoint must respond with 200 OK "
                        "to validation request.")
            content_type = answer.headers.get("content-type", "")
            if answer.status_code != 200 or not content_type.startswith("text/plain") or answer.text != token:
                return ("Subscription validation request failed. Notification endpoint must respond with 200 OK to "
                        "validation request.")
        return None

    # -- notifications ------------------------------------------------------------------------------

    def changed(self, mailbox: Mailbox, event: dict[str, Any], change: str) -> None:
        """Called by the mailboxes after every change."""
        for subscription in self.live():
            if subscription.mailbox != mailbox.user or change not in subscription.change_types \
                    or subscription.calendar not in (None, event.get("_calendar")) or subscription.paused:
                continue
            path = f"Users/{mailbox.object_id}/Events/{event['id']}"
            data: dict[str, Any] = {"@odata.type": "#Microsoft.Graph.Event", "@odata.id": path, "id": event["id"]}
            if change != "deleted":
                data["@odata.etag"] = event["@odata.etag"]
            item = {"subscriptionId": subscription.id, "subscriptionExpirationDateTime": iso(subscription.expiration),
                    "changeType": change, "resource": path, "resourceData": data,
                    "clientState": subscription.client_state, "tenantId": subscription.tenant}
            self.outbox.send(Notification(subscription.notification_url, dict(JSON),
                                          json.dumps({"value": [item]}).encode(), subscription.id, change))

    def lifecycle(self, subscription_id: str, event: str, *, pause: bool = True) -> bool:
        """Sends a lifecycle notification; False when the subscription has no lifecycle URL."""
        if event not in LIFECYCLE_EVENTS:
            raise ValueError(f"lifecycle events are {sorted(LIFECYCLE_EVENTS)}")
        subscription = self.subscriptions[subscription_id]
        if event == "reauthorizationRequired" and pause:
            subscription.paused = True
        if event == "subscriptionRemoved":
            del self.subscriptions[subscription_id]
        if not subscription.lifecycle_url:
            return False
        item = {"subscriptionId": subscription.id, "subscriptionExpirationDateTime": iso(subscription.expiration),
                "tenantId": subscription.tenant, "clientState": subscription.client_state, "lifecycleEvent": event}
        self.outbox.send(Notification(subscription.lifecycle_url, dict(JSON), json.dumps({"value": [item]}).encode(),
                                      subscription.id, event))
        return True
