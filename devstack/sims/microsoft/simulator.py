"""The Microsoft Graph simulator: Graph v1.0 under ``/v1.0`` (``/me/...`` delegated, ``/users/{id}/...``
with an app token that carries the tenant's admin consent) and the identity platform on one HTTPS port
(msal accepts only https authorities), with the clinician console mixed in. The throw-away CA is
:attr:`Simulator.ca_bundle`: point ``SSL_CERT_FILE`` at it before creating HTTP clients.

Delegated scopes are enforced: reads (events, calendars, views, delta, subscriptions) need
``Calendars.Read`` or ``Calendars.ReadWrite``, writes ``Calendars.ReadWrite`` (403 ``ErrorAccessDenied``).
Expired or unknown tokens answer 401 ``InvalidAuthenticationToken``.
"""

from __future__ import annotations

import copy
from typing import Any
from urllib.parse import unquote

from devstack.sims.http import ANSWER_LOST, Deferred, Recorded, SimRequest, SimResponse
from devstack.sims.microsoft import batch
from devstack.sims.microsoft.console import GraphConsole
from devstack.sims.microsoft.delta import Delta
from devstack.sims.microsoft.events import EventsApi
from devstack.sims.microsoft.identity import GRAPH, TOKEN_PATH, Identity
from devstack.sims.microsoft.mailbox import Mailbox, Mailboxes
from devstack.sims.microsoft.subscriptions import Subscription, Subscriptions
from devstack.sims.microsoft.views import BadRequest, graph_error
from devstack.sims.oauth import Grant, OAuthSimulator, TokenBook
from devstack.sims.push import Outbox

GRAPH_PREFIX = "/v1.0"
READ_WRITE, READ = GRAPH + "Calendars.ReadWrite", GRAPH + "Calendars.Read"


class MicrosoftGraphSimulator(GraphConsole, OAuthSimulator):
    """Graph v1.0 calendars, events, views, delta and subscriptions, and the identity platform."""

    name = "microsoft-sim"

    def __init__(self, *, access_lifetime_seconds: int = 3600) -> None:
        super().__init__(tls=True)
        self.tokens = TokenBook(access_lifetime_seconds, self.clock)
        self.mailboxes = Mailboxes(self.clock)
        self.push = Outbox(self.name, timeout=3.0, retry_on=lambda status: True)
        self.subscriptions = Subscriptions(self.clock, self.mailboxes, self.push, self._lock)
        self.mailboxes.listeners.append(self.subscriptions.changed)
        self.delta = Delta(self.mailboxes, lambda: self.api_base)
        self.events_api = EventsApi(self.mailboxes)
        self.identity = Identity(self.tokens, self.mailboxes, lambda: self.url)
        self.authorizations = self.identity.authorizations
        self._admin_consent: set[tuple[str, str]] = set()

    @property
    def duplicate_transaction(self) -> str:
        return self.events_api.duplicate_transaction

    @duplicate_transaction.setter
    def duplicate_transaction(self, value: str) -> None:
        self.events_api.duplicate_transaction = value

    def stop(self) -> None:
        self.push.stop()
        super().stop()

    # -- addresses ----------------------------------------------------------------------------------

    @property
    def api_base(self) -> str:
        return self.url + GRAPH_PREFIX

    @property
    def login_base(self) -> str:
        return self.url

    def authority(self, tenant: str = "common") -> str:
        """The authority URL to give msal (``instance_discovery=False``)."""
        return f"{self.url}/{tenant}"

    # -- setup --------------------------------------------------------------------------------------

    def register_client(self, client_id: str, client_secret: str, redirect_uris: tuple[str, ...] = ()) -> None:
        with self._lock:
            self.tokens.register_client(client_id, client_secret)
            for uri in redirect_uris:
                self.authorizations.register_redirect_uri(client_id, uri)

    def add_user(self, user: str, tenant: str) -> str:
        """Creates the mailbox; returns the id of its default calendar."""
        with self._lock:
            return self.mailboxes.add(user, tenant).default_calendar

    def add_calendar(self, user: str, name: str | None = None) -> str:
        with self._lock:
            mailbox = self.mailboxes.mailboxes[user]
            return self.mailboxes.add_calendar(mailbox, name or f"Calendar {len(mailbox.calendars) + 1}")

    def connect(self, user: str, client_id: str, tenant: str, scopes: tuple[str, ...] = (READ_WRITE,)) -> str:
        """The clinician consents (delegated, without the consent page): returns a refresh token."""
        with self._lock:
            self.add_user(user, tenant)
            return self.tokens.consent(client_id, user, tenant=tenant, scope=" ".join(scopes))

    def admin_consent(self, tenant: str, client_id: str, *, granted: bool = True) -> None:
        """The tenant's admin grants (or withdraws) application permissions for ``client_id``."""
        with self._lock:
            if granted:
                self._admin_consent.add((tenant, client_id))
            else:
                self._admin_consent.discard((tenant, client_id))

    def expire_delta_tokens(self, user: str | None = None, *, code: str = "syncStateNotFound") -> int:
        """Every delta and skip token handed out so far (for ``user``) now answers 410 with ``code``
        (``syncStateNotFound``, or ``resyncRequired`` with a ``Location`` header)."""
        with self._lock:
            return self.delta.expire(user, code)

    def lifecycle(self, subscription_id: str, event: str, *, pause: bool = True) -> bool:
        """Sends ``reauthorizationRequired`` (pausing change notifications unless ``pause=False``),
        ``subscriptionRemoved`` (deleting the subscription) or ``missed``; False without a lifecycle URL."""
        with self._lock:
            return self.subscriptions.lifecycle(subscription_id, event, pause=pause)

    def clear_state(self) -> None:
        self.tokens.clear()
        self.mailboxes.clear()
        self.subscriptions.clear()
        self.delta.clear()
        self.authorizations.clear()
        self.push.clear()
        self._admin_consent.clear()
        self.duplicate_transaction = "existing"

    # -- inspection ---------------------------------------------------------------------------------

    def events(self, user: str, calendar: str | None = None) -> list[dict[str, Any]]:
        """The stored events (every field, extended properties and transactionId included)."""
        with self._lock:
            mailbox = self.mailboxes.mailboxes.get(user)
            return [copy.deepcopy(e) for e in (mailbox.events.values() if mailbox else [])
                    if calendar is None or e["_calendar"] == calendar]

    def calendars(self, user: str) -> list[dict[str, Any]]:
        with self._lock:
            return copy.deepcopy(list(self.mailboxes.mailboxes[user].calendars.values()))

    def active_subscriptions(self, user: str | None = None) -> list[Subscription]:
        with self._lock:
            return [copy.copy(s) for s in self.subscriptions.live() if user in (None, s.mailbox)]

    def api_requests(self) -> list[Recorded]:
        """The Graph calls made (a batch's requests each count as one; its envelope does not)."""
        return [r for r in self.requests
                if r.request.path.startswith(GRAPH_PREFIX + "/") and r.request.path != batch.BATCH_PATH]

    def token_requests(self) -> list[Recorded]:
        return [r for r in self.requests if TOKEN_PATH.match(r.request.path)]

    # -- dispatch -----------------------------------------------------------------------------------

    def error_body(self, status: int, request: SimRequest) -> Any:
        if not request.path.startswith(GRAPH_PREFIX):
            return {"error": "temporarily_unavailable", "error_description": "AADSTS50196: injected fault"}
        codes = {401: "InvalidAuthenticationToken", 403: "ErrorAccessDenied", 429: "TooManyRequests",
                 503: "serviceNotAvailable", 504: "serviceNotAvailable"}
        return graph_error(status, codes.get(status, "generalException"), "Injected fault.").body

    def handle(self, request: SimRequest) -> SimResponse | Deferred:
        answer = self.identity.handle(request)
        if answer is not None:
            return answer
        if not request.path.startswith(GRAPH_PREFIX + "/"):
            return graph_error(404, "notFound", "Not found")
        grant = self.tokens.bearer(request.bearer)
        if grant is None:
            return graph_error(401, "InvalidAuthenticationToken", "Access token has expired or is not yet valid.")
        if request.path == batch.BATCH_PATH:
            if request.method != "POST":
                return graph_error(405, "ErrorInvalidRequest", "Method not allowed.")
            batched = batch.answer(self, request)
            return batched if batched is not None else ANSWER_LOST
        parts = [unquote(p) for p in request.path[len(GRAPH_PREFIX) + 1:].split("/")]
        try:
            if parts[0] == "subscriptions":
                return self._subscriptions(request, grant, parts[1:])
            return self._graph(request, grant, parts)
        except BadRequest as problem:
            return graph_error(problem.status, problem.code, str(problem))

    def _mailbox_for(self, grant: Grant, who: str) -> Mailbox | SimResponse:
        if who == "me":
            if grant.application:
                return graph_error(400, "BadRequest", "/me request is only valid with delegated authentication flow.")
            mailbox = self.mailboxes.mailboxes.get(grant.subject)
        else:
            mailbox = self.mailboxes.find(who)
            if mailbox is not None and not self._may_access(grant, mailbox):
                return graph_error(403, "ErrorAccessDenied", "Access is denied. Check credentials and try again.")
        return mailbox or graph_error(404, "ErrorInvalidUser", "The requested user is invalid.")

    def _may_access(self, grant: Grant, mailbox: Mailbox) -> bool:
        if grant.application:
            return grant.tenant == mailbox.tenant and (mailbox.tenant, grant.client_id) in self._admin_consent
        return grant.subject == mailbox.user

    @staticmethod
    def _scope_denied(grant: Grant, write: bool) -> SimResponse | None:
        if grant.application or READ_WRITE in grant.scopes or (not write and READ in grant.scopes):
            return None
        return graph_error(403, "ErrorAccessDenied", "Access is denied. Check credentials and try again.")

    def _graph(self, request: SimRequest, grant: Grant, parts: list[str]) -> SimResponse:
        if parts[0] == "me":
            who, rest = "me", parts[1:]
        elif parts[0] == "users" and len(parts) > 1:
            who, rest = parts[1], parts[2:]
        else:
            return graph_error(404, "notFound", "Resource not found for the segment.")
        mailbox = self._mailbox_for(grant, who)
        if isinstance(mailbox, SimResponse):
            return mailbox
        denied = self._scope_denied(grant, request.method not in ("GET", "HEAD"))
        if denied:
            return denied
        calendar, tail = self._calendar_of(mailbox, rest)
        if calendar is None:
            return graph_error(404, "ErrorItemNotFound", "The specified object was not found in the store.")
        path = "/" + "/".join([*parts[: len(parts) - len(tail)], "calendarView", "delta"])
        api = self.events_api
        if tail == ["events"]:
            return api.collection(request, mailbox, calendar)
        if tail == ["calendarView"] and request.method == "GET":
            return self.delta.calendar_view(request, mailbox, calendar)
        if tail == ["calendarView", "delta"] and request.method == "GET":
            return self.delta.delta(request, mailbox, calendar, path)
        if tail == [] and rest[:1] == ["calendar"]:
            return SimResponse(200, mailbox.calendars[calendar])
        if rest == ["calendars"]:
            return api.calendars(request, mailbox)
        if len(rest) == 2 and rest[0] == "calendars":
            return api.calendar(request, mailbox, rest[1])
        if rest[:1] == ["events"] and len(rest) == 2:
            return api.item(request, mailbox, rest[1])
        if rest[:1] == ["events"] and len(rest) == 3 and rest[2] == "instances":
            return api.instances(request, mailbox, rest[1])
        return graph_error(404, "notFound", "Resource not found for the segment.")

    @staticmethod
    def _calendar_of(mailbox: Mailbox, rest: list[str]) -> tuple[str | None, list[str]]:
        """Which calendar a path names (``calendars/{id}/...``, ``calendar/...``, or the default for
        ``events`` and ``calendarView``), and the rest of the path."""
        if rest[:1] == ["calendars"] and len(rest) >= 3:
            return (rest[1] if rest[1] in mailbox.calendars else None), rest[2:]
        if rest[:1] == ["calendar"]:
            return mailbox.default_calendar, rest[1:]
        return mailbox.default_calendar, rest

    def _subscriptions(self, request: SimRequest, grant: Grant, rest: list[str]) -> SimResponse | Deferred:
        denied = self._scope_denied(grant, write=False)
        if denied:
            return denied
        subs = self.subscriptions
        if not rest:
            if request.method == "POST":
                return subs.create(request.json(), grant, lambda who: self._mailbox_for(grant, who))
            if request.method == "GET":
                return SimResponse(200, {"value": [s.body() for s in subs.live() if subs.owned(s.id, grant)]})
            return graph_error(405, "ErrorInvalidRequest", "Method not allowed.")
        found = subs.owned(rest[0], grant)
        if found is None:
            return graph_error(404, "ResourceNotFound", f"The object was not found: subscription {rest[0]}.")
        if rest[1:] == ["reauthorize"] and request.method == "POST":
            found.paused = False
            return SimResponse(204)
        if len(rest) == 1 and request.method == "GET":
            return SimResponse(200, found.body())
        if len(rest) == 1 and request.method == "PATCH":
            return subs.update(found, request.json())
        if len(rest) == 1 and request.method == "DELETE":
            del subs.subscriptions[found.id]
            return SimResponse(204)
        return graph_error(405, "ErrorInvalidRequest", "Method not allowed.")
