"""The Google Calendar simulator: one loopback port serving Calendar v3 under ``/calendar/v3`` and
Google's OAuth endpoints, with the clinician console mixed in.

OAuth scopes are enforced as the discovery document lists them per method (403
``insufficientPermissions`` otherwise); a token that holds only ``calendar.app.created`` reaches only
calendars its client created. Expired or unknown access tokens answer 401 ``authError``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

from devstack.sims.authorize import Authorizations
from devstack.sims.google import batch, calendars
from devstack.sims.google.channels import Channel, Channels
from devstack.sims.google.console import GoogleConsole
from devstack.sims.google.events import EventsApi
from devstack.sims.google.listing import Lister
from devstack.sims.google.oauth import AUTHORIZE_PATH, DECISION, REVOKE_PATH, TOKEN_PATH, GoogleOAuth
from devstack.sims.google.schema import Invalid, check_params, error, method_spec
from devstack.sims.google.store import Calendar, GoogleStore, public
from devstack.sims.http import ANSWER_LOST, Recorded, SimRequest, SimResponse
from devstack.sims.oauth import Grant, OAuthSimulator, TokenBook
from devstack.sims.push import Outbox

API_PREFIX = "/calendar/v3"
SCOPE_PREFIX = "https://www.googleapis.com/auth/"
EVENTS_SCOPE = SCOPE_PREFIX + "calendar.events"
APP_CREATED = SCOPE_PREFIX + "calendar.app.created"
GOOGLE_RETRIED = (500, 502, 503, 504)


class GoogleCalendarSimulator(GoogleConsole, OAuthSimulator):
    """Google Calendar v3 and Google's OAuth endpoints on one loopback port."""

    name = "google-sim"

    def __init__(self, *, rotate_refresh_tokens: bool = False, access_lifetime_seconds: int = 3600,
                 tls: bool = False) -> None:
        super().__init__(tls=tls)
        self.tokens = TokenBook(access_lifetime_seconds, self.clock)
        self.store = GoogleStore(self.clock)
        self.push = Outbox(self.name, timeout=10.0, retry_on=lambda status: status is None or status in GOOGLE_RETRIED)
        self.channels = Channels(self.clock, self.push, lambda: self.api_base)
        self.store.listeners.append(self.channels.changed)
        self.lister = Lister(self.store)
        self.events_api = EventsApi(self.store, self.lister, self.channels)
        self.authorizations = Authorizations(self.clock, DECISION)
        self.oauth = GoogleOAuth(self.tokens, self.authorizations, lambda: self.url)
        self.rotate_refresh_tokens = rotate_refresh_tokens

    @property
    def rotate_refresh_tokens(self) -> bool:
        return self.oauth.rotate_refresh_tokens

    @rotate_refresh_tokens.setter
    def rotate_refresh_tokens(self, value: bool) -> None:
        self.oauth.rotate_refresh_tokens = value

    def stop(self) -> None:
        self.push.stop()
        super().stop()

    # -- addresses ----------------------------------------------------------------------------------

    @property
    def api_base(self) -> str:
        return self.url + API_PREFIX

    @property
    def token_uri(self) -> str:
        return self.url + TOKEN_PATH

    @property
    def authorize_uri(self) -> str:
        return self.url + AUTHORIZE_PATH

    @property
    def revoke_uri(self) -> str:
        return self.url + REVOKE_PATH

    def client_config(self, client_id: str, client_secret: str, redirect_uris: list[str]) -> dict[str, Any]:
        """A "web" client secrets document pointing at the simulator (google-auth-oauthlib's format)."""
        return {"web": {"client_id": client_id, "client_secret": client_secret, "auth_uri": self.authorize_uri,
                        "token_uri": self.token_uri, "redirect_uris": list(redirect_uris)}}

    # -- setup --------------------------------------------------------------------------------------

    def register_client(self, client_id: str, client_secret: str, redirect_uris: tuple[str, ...] = ()) -> None:
        with self._lock:
            self.tokens.register_client(client_id, client_secret)
            for uri in redirect_uris:
                self.authorizations.register_redirect_uri(client_id, uri)

    def add_user(self, user: str, *, time_zone: str = "UTC") -> str:
        """A Google account with its primary calendar (id = the address); returns the calendar id."""
        with self._lock:
            self.store.add_calendar(user, user, summary=user, primary=True, time_zone=time_zone)
            return user

    def connect(self, user: str, client_id: str, scopes: tuple[str, ...] = (EVENTS_SCOPE,)) -> str:
        """The clinician consents (without the consent page): returns a new refresh token."""
        with self._lock:
            self.add_user(user)
            return self.tokens.consent(client_id, user, scope=" ".join(scopes))

    def add_calendar(self, user: str, calendar_id: str, *, summary: str | None = None) -> None:
        with self._lock:
            self.store.add_calendar(user, calendar_id, summary=summary, primary=calendar_id == user)

    def remove_calendar(self, calendar_id: str) -> None:
        """The clinician deletes the calendar: the API answers 404, watching channels get ``not_exists``."""
        with self._lock:
            calendar = self.store.live(calendar_id)
            if calendar is not None:
                self.store.delete_calendar(calendar)

    def expire_sync_tokens(self, calendar_id: str | None = None) -> int:
        """Every sync token handed out so far (for one calendar) now answers 410 ``fullSyncRequired``."""
        with self._lock:
            return self.lister.expire(calendar_id)

    def expire_channel(self, channel_id: str) -> None:
        """The channel reaches its expiration now: it sends nothing more, and stopping it answers 404."""
        with self._lock:
            self.channels.channels[channel_id].expiration_ms = int(self.clock.now() * 1000)

    def clear_state(self) -> None:
        self.tokens.clear()
        self.store.clear()
        self.lister.clear()
        self.channels.clear()
        self.authorizations.clear()
        self.push.clear()

    # -- inspection ---------------------------------------------------------------------------------

    def events(self, calendar_id: str, *, include_cancelled: bool = False) -> list[dict[str, Any]]:
        """The stored events (series as series, exceptions as their own entries)."""
        with self._lock:
            calendar = self.store.calendars.get(calendar_id)
            return [public(e) for e in (calendar.events.values() if calendar else [])
                    if include_cancelled or e.get("status") != "cancelled"]

    def calendars(self, user: str) -> list[dict[str, Any]]:
        with self._lock:
            return [c.resource() for c in self.store.calendars.values() if c.owner == user and not c.deleted]

    def watch_channels(self, calendar_id: str | None = None, *, live_only: bool = True) -> list[Channel]:
        """Copies of the channels (live ones: not stopped, not expired)."""
        with self._lock:
            return [c for c in self.channels.snapshot() if calendar_id in (None, c.calendar_id)
                    and (not live_only or c in self.channels.live())]

    def api_requests(self) -> list[Recorded]:
        return [r for r in self.requests if r.request.path.startswith(API_PREFIX)]

    def token_requests(self) -> list[Recorded]:
        return [r for r in self.requests if r.request.path == TOKEN_PATH]

    # -- dispatch -----------------------------------------------------------------------------------

    def error_body(self, status: int, request: SimRequest) -> Any:
        if not request.path.startswith(API_PREFIX):
            return {"error": "rate_limit_exceeded" if status == 429 else "internal_failure"}
        reasons = {401: ("authError", "global"), 403: ("rateLimitExceeded", "usageLimits"),
                   429: ("rateLimitExceeded", "usageLimits"), 412: ("conditionNotMet", "global")}
        reason, domain = reasons.get(status, ("backendError", "global"))
        return error(status, reason, "Injected fault.", domain).body

    def _users(self) -> list[str]:
        return sorted({c.owner for c in self.store.calendars.values() if c.primary and not c.deleted})

    def handle(self, request: SimRequest) -> SimResponse:
        answer = self.oauth.handle(request, self._users())
        if answer is not None:
            return answer
        if request.path == batch.BATCH_PATH:
            if request.method != "POST":
                return error(405, "methodNotAllowed", "Method Not Allowed")
            batched = batch.answer(self, request)
            return batched if batched is not None else ANSWER_LOST
        if not request.path.startswith(API_PREFIX + "/"):
            return error(404, "notFound", "Not Found")
        grant = self.tokens.bearer(request.bearer)
        if grant is None:
            return error(401, "authError", "Invalid Credentials", locationType="header", location="Authorization")
        parts = [unquote(p) for p in request.path[len(API_PREFIX) + 1:].split("/")]
        try:
            return self._route(request, grant, parts)
        except Invalid as problem:
            return error(400, problem.reason, str(problem))

    def _route(self, request: SimRequest, grant: Grant, parts: list[str]) -> SimResponse:
        method, n = request.method, len(parts)
        if parts[0] == "calendars" and n >= 3 and parts[2] == "events":
            if n == 3 or (n == 4 and parts[3] == "watch"):
                action = parts[3] if n == 4 else None
                name = action or {"POST": "insert", "GET": "list"}.get(method, "list")
                return self._on_calendar(grant, parts[1], "events", name, lambda c: self.events_api.collection(
                    request, c, grant, action))
            if n == 5 and parts[4] == "instances":
                return self._on_calendar(grant, parts[1], "events", "instances",
                                         lambda c: self.events_api.instances(request, c, parts[3]))
            if n == 4:
                name = {"GET": "get", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}.get(method, "get")
                return self._on_calendar(grant, parts[1], "events", name,
                                         lambda c: self.events_api.item(request, c, parts[3]))
        if parts == ["calendars"] and method == "POST":
            return self._scoped(grant, "calendars", "insert") or self._insert_calendar(request, grant)
        if parts[0] == "calendars" and n == 2 and method in ("GET", "DELETE"):
            name = "get" if method == "GET" else "delete"
            return self._on_calendar(grant, parts[1], "calendars", name, lambda c: self._calendar_item(request, c))
        if parts[:3] == ["users", "me", "calendarList"] and method == "GET" and n in (3, 4):
            denied = self._scoped(grant, "calendarList", "list" if n == 3 else "get")
            if denied:
                return denied
            if n == 3:
                check_params(request, "list", "calendarList")
                return calendars.calendar_list(self.store, grant.subject)
            found = self._visible(grant, parts[3], "calendarList", "get")
            return SimResponse(200, calendars.list_entry(found)) if found else error(404, "notFound", "Not Found")
        if parts == ["channels", "stop"] and method == "POST":
            return self._scoped(grant, "channels", "stop") or self.channels.stop(request.json(), grant)
        if parts == ["freeBusy"] and method == "POST":
            return self._scoped(grant, "freebusy", "query") or calendars.free_busy(
                self.store, request.json(), lambda cid: self._visible(grant, cid, "freebusy", "query"))
        return error(404, "notFound", "Not Found")

    def _insert_calendar(self, request: SimRequest, grant: Grant) -> SimResponse:
        check_params(request, "insert", "calendars")
        return calendars.insert_calendar(self.store, request.json(), grant.subject, grant.client_id)

    def _calendar_item(self, request: SimRequest, calendar: Calendar) -> SimResponse:
        check_params(request, "get" if request.method == "GET" else "delete", "calendars")
        if request.method == "GET":
            return SimResponse(200, calendar.resource())
        if calendar.primary:
            return error(400, "cannotDeletePrimaryCalendar", "The primary calendar cannot be deleted.")
        self.store.delete_calendar(calendar)
        return SimResponse(204)

    # -- scopes and calendar access -----------------------------------------------------------------

    def _qualifying(self, grant: Grant, resource: str, method: str) -> set[str]:
        return grant.scopes & set(method_spec(resource, method)["scopes"])

    def _scoped(self, grant: Grant, resource: str, method: str) -> SimResponse | None:
        if self._qualifying(grant, resource, method):
            return None
        return error(403, "insufficientPermissions", "Request had insufficient authentication scopes.")

    def _visible(self, grant: Grant, calendar_id: str, resource: str, method: str) -> Calendar | None:
        """The calendar, if it is the caller's and (with only ``calendar.app.created``) their client's."""
        calendar = self.store.live(grant.subject if calendar_id == "primary" else calendar_id)
        if calendar is None or calendar.owner != grant.subject:
            return None  # no such calendar, or not this user's: Google says 404 either way
        if self._qualifying(grant, resource, method) == {APP_CREATED} and calendar.created_by != grant.client_id:
            return None
        return calendar

    def _on_calendar(self, grant: Grant, calendar_id: str, resource: str, method: str,
                     then: Any) -> SimResponse:
        denied = self._scoped(grant, resource, method)
        if denied:
            return denied
        calendar = self._visible(grant, calendar_id, resource, method)
        if calendar is None:
            return error(404, "notFound", "Not Found")
        answer: SimResponse = then(calendar)
        return answer
