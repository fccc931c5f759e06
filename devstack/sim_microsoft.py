"""A Microsoft Graph (calendar events) and Microsoft identity platform simulator, for the subset
calsync uses, served over HTTPS (msal accepts only https authorities) with a throw-away CA made by
``trustme``: point ``SSL_CERT_FILE`` at :attr:`Simulator.ca_bundle` before creating HTTP clients.

Identity (``/{tenant}/v2.0/.well-known/openid-configuration``, ``/{tenant}/oauth2/v2.0/token``):
refresh-token grants rotate the refresh token on every use (the old one stays valid, as Microsoft
does), answer with ``id_token`` and ``client_info`` for msal's cache, and ``invalid_grant`` once the
consent is revoked; client-credentials grants issue app tokens that carry the tenant's admin consent,
so Graph answers 403 when the consent is missing or withdrawn.

Graph (``/v1.0/me/...`` delegated, ``/v1.0/users/{id}/...`` with an app token): events in a calendar
or the default one, ``transactionId`` de-duplication (a repeated create answers with the event the
first one made, or with 409 when ``duplicate_transaction = "conflict"``), single-value extended
properties searchable with ``$filter``, ``changeKey``/``@odata.etag`` changing on every write,
``Prefer: outlook.timezone`` and ``outlook.body-content-type``, 404 ``ErrorItemNotFound``, 401
``InvalidAuthenticationToken`` for expired tokens. Bodies are checked against Graph's Event schema
(``devstack.graph_schema``): unknown properties are refused with 400, as Graph does. Time zones are
IANA names (or UTC); Windows zone names, which Graph also accepts, are not simulated.
"""

from __future__ import annotations

import base64
import copy
import datetime as dt
import html
import json
import re
import secrets
import time
import uuid
from typing import Any
from urllib.parse import unquote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from devstack.graph_schema import problems
from devstack.sim_http import Grant, OAuthSimulator, Recorded, SimRequest, SimResponse, TokenBook

GRAPH_PREFIX = "/v1.0"
_FILTER = re.compile(r"^singleValueExtendedProperties/Any\(ep: ep/id eq '(?P<id>[^']*)' and "
                     r"ep/value eq '(?P<value>[^']*)'\)$")
_PREFERENCE = re.compile(r'([\w.-]+)\s*=\s*"([^"]*)"')
_TOKEN_PATH = re.compile(r"^/(?P<tenant>[^/]+)/oauth2/v2\.0/token$")
_OIDC_PATH = re.compile(r"^/(?P<tenant>[^/]+)/v2\.0/\.well-known/openid-configuration$")


def graph_error(status: int, code: str, message: str) -> SimResponse:
    return SimResponse(status, {"error": {"code": code, "message": message,
                                          "innerError": {"request-id": str(uuid.uuid4()),
                                                         "date": dt.datetime.now(dt.UTC).isoformat()}}})


def identity_error(code: str, aadsts: int, message: str) -> SimResponse:
    return SimResponse(400, {"error": code, "error_description": f"AADSTS{aadsts}: {message}",
                             "error_codes": [aadsts], "trace_id": str(uuid.uuid4()),
                             "correlation_id": str(uuid.uuid4())})


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


class BadRequest(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class Mailbox:
    def __init__(self, user: str, tenant: str) -> None:
        self.user, self.tenant = user, tenant
        self.object_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"user:{user}"))
        self.default_calendar = f"AAMkCal{secrets.token_urlsafe(12)}"
        self.calendars: set[str] = {self.default_calendar}
        self.events: dict[str, dict[str, Any]] = {}


class MicrosoftGraphSimulator(OAuthSimulator):
    """Graph v1.0 calendar events and the identity platform's token endpoint on one HTTPS port."""

    name = "microsoft-sim"

    def __init__(self, *, access_lifetime_seconds: int = 3600) -> None:
        super().__init__(tls=True)
        self.tokens = TokenBook(access_lifetime_seconds)
        self.duplicate_transaction = "existing"
        self._mailboxes: dict[str, Mailbox] = {}
        self._admin_consent: set[tuple[str, str]] = set()

    # -- addresses ----------------------------------------------------------------------------------

    @property
    def api_base(self) -> str:
        return self.url + GRAPH_PREFIX

    @property
    def login_base(self) -> str:
        return self.url

    # -- setup --------------------------------------------------------------------------------------

    def register_client(self, client_id: str, client_secret: str) -> None:
        with self._lock:
            self.tokens.register_client(client_id, client_secret)

    def add_user(self, user: str, tenant: str) -> str:
        """Creates the mailbox; returns the id of its default calendar."""
        with self._lock:
            mailbox = self._mailboxes.setdefault(user, Mailbox(user, tenant))
            return mailbox.default_calendar

    def add_calendar(self, user: str) -> str:
        with self._lock:
            calendar = f"AAMkCal{secrets.token_urlsafe(12)}"
            self._mailboxes[user].calendars.add(calendar)
            return calendar

    def connect(self, user: str, client_id: str, tenant: str) -> str:
        """The clinician consents (delegated): returns a refresh token."""
        with self._lock:
            self.add_user(user, tenant)
            return self.tokens.consent(client_id, user, tenant=tenant,
                                       scope="https://graph.microsoft.com/Calendars.ReadWrite")

    def admin_consent(self, tenant: str, client_id: str, *, granted: bool = True) -> None:
        """The tenant's admin grants (or withdraws) application permissions for ``client_id``."""
        with self._lock:
            if granted:
                self._admin_consent.add((tenant, client_id))
            else:
                self._admin_consent.discard((tenant, client_id))

    def edit(self, user: str, event_id: str, **fields: Any) -> None:
        """The clinician edits the event in Outlook: its changeKey moves on."""
        with self._lock:
            event = self._mailboxes[user].events[event_id]
            event.update(fields)
            self._touch(event)

    def clear_state(self) -> None:
        self.tokens.clear()
        self._mailboxes.clear()
        self._admin_consent.clear()
        self.duplicate_transaction = "existing"

    # -- inspection ---------------------------------------------------------------------------------

    def events(self, user: str, calendar: str | None = None) -> list[dict[str, Any]]:
        """The stored events (every field, extended properties and transactionId included)."""
        with self._lock:
            mailbox = self._mailboxes.get(user)
            if mailbox is None:
                return []
            return [copy.deepcopy(e) for e in mailbox.events.values()
                    if calendar is None or e["_calendar"] == calendar]

    def api_requests(self) -> list[Recorded]:
        return [r for r in self.requests if r.request.path.startswith(GRAPH_PREFIX + "/")]

    def token_requests(self) -> list[Recorded]:
        return [r for r in self.requests if _TOKEN_PATH.match(r.request.path)]

    # -- dispatch -----------------------------------------------------------------------------------

    def error_body(self, status: int, request: SimRequest) -> Any:
        if _TOKEN_PATH.match(request.path):
            return {"error": "temporarily_unavailable", "error_description": "AADSTS50196: injected fault"}
        codes = {401: "InvalidAuthenticationToken", 403: "ErrorAccessDenied", 429: "TooManyRequests",
                 503: "serviceNotAvailable", 504: "serviceNotAvailable"}
        return graph_error(status, codes.get(status, "generalException"), "Injected fault.").body

    def handle(self, request: SimRequest) -> SimResponse:
        if match := _OIDC_PATH.match(request.path):
            return self._openid_configuration(match["tenant"])
        if (match := _TOKEN_PATH.match(request.path)) and request.method == "POST":
            return self._token(request, match["tenant"])
        if request.path.startswith(GRAPH_PREFIX + "/"):
            try:
                return self._graph(request)
            except BadRequest as problem:
                return graph_error(400, problem.code, str(problem))
        return graph_error(404, "notFound", "Not found")

    # -- identity -----------------------------------------------------------------------------------

    def _openid_configuration(self, tenant: str) -> SimResponse:
        base = f"{self.url}/{tenant}"
        return SimResponse(200, {
            "issuer": f"{self.url}/{{tenantid}}/v2.0",
            "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
            "token_endpoint": f"{base}/oauth2/v2.0/token",
            "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "jwks_uri": f"{base}/discovery/v2.0/keys",
            "tenant_region_scope": "EU",
        })

    def _token(self, request: SimRequest, tenant: str) -> SimResponse:
        form = request.form()
        client_id, client_secret = request.basic or (form.get("client_id"), form.get("client_secret"))
        if not self.tokens.client_ok(client_id, client_secret):
            return SimResponse(401, {"error": "invalid_client",
                                     "error_description": "AADSTS7000215: Invalid client secret provided."})
        assert client_id is not None
        grant_type = form.get("grant_type")
        if grant_type == "client_credentials":
            if tenant in ("common", "organizations", "consumers"):
                return identity_error("invalid_request", 900023, "Specified tenant identifier is not valid.")
            access, lifetime = self.tokens.issue(self.tokens.application_grant(client_id, tenant))
            return SimResponse(200, {"token_type": "Bearer", "expires_in": lifetime, "ext_expires_in": lifetime,
                                     "access_token": access})
        if grant_type != "refresh_token":
            return identity_error("unsupported_grant_type", 70003, "The app requested an unsupported grant type.")
        refresh_token = form.get("refresh_token")
        grant = self.tokens.redeem(refresh_token, client_id)
        if grant is None or refresh_token is None:
            return identity_error("invalid_grant", 70008, "The refresh token has expired or was revoked.")
        if tenant not in ("common", "organizations", grant.tenant):
            return identity_error("invalid_grant", 50020, "User account does not exist in this tenant.")
        mailbox = self._mailboxes[grant.subject]
        access, lifetime = self.tokens.issue(grant)
        now = int(time.time())
        answer: dict[str, Any] = {
            "token_type": "Bearer", "scope": grant.scope, "expires_in": lifetime, "ext_expires_in": lifetime,
            "access_token": access, "refresh_token": self.tokens.rotate(refresh_token),
            "id_token": ".".join((_b64({"typ": "JWT", "alg": "none"}), _b64({
                "aud": client_id, "iss": f"{self.url}/{grant.tenant}/v2.0", "iat": now, "nbf": now,
                "exp": now + lifetime, "oid": mailbox.object_id, "sub": mailbox.object_id,
                "preferred_username": mailbox.user, "name": mailbox.user, "tid": grant.tenant, "ver": "2.0",
            }), "")),
        }
        if form.get("client_info") == "1":
            answer["client_info"] = _b64({"uid": mailbox.object_id, "utid": grant.tenant})
        return SimResponse(200, answer)

    # -- Graph --------------------------------------------------------------------------------------

    def _graph(self, request: SimRequest) -> SimResponse:
        grant = self.tokens.bearer(request.bearer)
        if grant is None:
            return graph_error(401, "InvalidAuthenticationToken", "Access token has expired or is not yet valid.")
        parts = [unquote(p) for p in request.path[len(GRAPH_PREFIX) + 1:].split("/")]
        if parts[0] == "me":
            if grant.application:
                return graph_error(400, "BadRequest", "/me request is only valid with delegated authentication flow.")
            mailbox, rest = self._mailboxes.get(grant.subject), parts[1:]
        elif parts[0] == "users" and len(parts) > 1:
            mailbox, rest = self._user(parts[1]), parts[2:]
            if mailbox is not None and not self._may_access(grant, mailbox):
                return graph_error(403, "ErrorAccessDenied", "Access is denied. Check credentials and try again.")
        else:
            return graph_error(404, "notFound", "Resource not found for the segment.")
        if mailbox is None:
            return graph_error(404, "ErrorInvalidUser", "The requested user is invalid.")
        if rest[:1] == ["calendars"] and len(rest) == 3 and rest[2] == "events":
            if rest[1] not in mailbox.calendars:
                return graph_error(404, "ErrorItemNotFound", "The specified object was not found in the store.")
            return self._collection(request, mailbox, rest[1])
        if rest in (["calendar", "events"], ["events"]):
            return self._collection(request, mailbox, mailbox.default_calendar)
        if rest[:1] == ["events"] and len(rest) == 2:
            return self._item(request, mailbox, rest[1])
        return graph_error(404, "notFound", "Resource not found for the segment.")

    def _user(self, user_id: str) -> Mailbox | None:
        return next((m for m in self._mailboxes.values() if user_id in (m.user, m.object_id)), None)

    def _may_access(self, grant: Grant, mailbox: Mailbox) -> bool:
        if grant.application:
            return grant.tenant == mailbox.tenant and (mailbox.tenant, grant.client_id) in self._admin_consent
        return grant.subject == mailbox.user

    def _collection(self, request: SimRequest, mailbox: Mailbox, calendar: str) -> SimResponse:
        if request.method == "POST":
            return self._create(request, mailbox, calendar)
        if request.method != "GET":
            return graph_error(405, "ErrorInvalidRequest", "Method not allowed.")
        found = [e for e in mailbox.events.values() if e["_calendar"] == calendar]
        query = request.param("$filter")
        if query is not None:
            match = _FILTER.match(query)
            if match is None:
                raise BadRequest("ErrorInvalidUrlQueryFilter", "The query filter is not supported.")
            found = [e for e in found if any(p["id"].lower() == match["id"].lower() and p["value"] == match["value"]
                                             for p in e.get("singleValueExtendedProperties", []))]
        return SimResponse(200, {"value": [self._view(request, e) for e in found]})

    def _create(self, request: SimRequest, mailbox: Mailbox, calendar: str) -> SimResponse:
        body = self._valid(request.json())
        transaction = body.get("transactionId")
        if transaction:
            existing = next((e for e in mailbox.events.values() if e.get("transactionId") == transaction), None)
            if existing is not None:
                if self.duplicate_transaction == "conflict":
                    return graph_error(409, "ErrorDuplicateTransactionId", "A duplicate transaction was detected.")
                return SimResponse(201, self._view(request, existing))
        event_id = f"AAMkAGI2{secrets.token_urlsafe(30)}"
        now = dt.datetime.now(dt.UTC).isoformat().replace("+00:00", "Z")
        event = {
            "isReminderOn": True, "reminderMinutesBeforeStart": 15, "importance": "normal",
            "sensitivity": "normal", "showAs": "busy", "isAllDay": False, "categories": [], "attendees": [],
            "location": {"displayName": ""}, "body": {"contentType": "text", "content": ""},
            **body, "id": event_id, "createdDateTime": now, "lastModifiedDateTime": now,
            "iCalUId": f"040000008200E00074C5B7101A82E008{secrets.token_hex(24)}",
            "organizer": {"emailAddress": {"address": mailbox.user, "name": mailbox.user}},
            "isOrganizer": True, "type": "singleInstance", "_calendar": calendar,
        }
        self._touch(event)
        mailbox.events[event_id] = event
        return SimResponse(201, self._view(request, event))

    def _item(self, request: SimRequest, mailbox: Mailbox, event_id: str) -> SimResponse:
        event = mailbox.events.get(event_id)
        if event is None:
            return graph_error(404, "ErrorItemNotFound", "The specified object was not found in the store.")
        if request.method == "GET":
            return SimResponse(200, self._view(request, event))
        if request.method == "DELETE":
            del mailbox.events[event_id]
            return SimResponse(204)
        if request.method != "PATCH":
            return graph_error(405, "ErrorInvalidRequest", "Method not allowed.")
        body = self._valid(request.json())
        if "transactionId" in body and body["transactionId"] != event.get("transactionId"):
            raise BadRequest("ErrorInvalidPropertyUpdateSentToServer", "transactionId cannot be changed.")
        wanted = request.headers.get("if-match")
        if wanted not in (None, "*", event["@odata.etag"]):
            return graph_error(412, "ErrorIrresolvableConflict", "The change key passed does not match.")
        event.update(body)
        event["lastModifiedDateTime"] = dt.datetime.now(dt.UTC).isoformat().replace("+00:00", "Z")
        self._touch(event)
        return SimResponse(200, self._view(request, event))

    @staticmethod
    def _touch(event: dict[str, Any]) -> None:
        event["changeKey"] = base64.b64encode(secrets.token_bytes(12)).decode()
        event["@odata.etag"] = f'W/"{event["changeKey"]}"'

    # -- validation and views -----------------------------------------------------------------------

    @staticmethod
    def _valid(body: Any) -> dict[str, Any]:
        found = problems(body)
        if found:
            raise BadRequest("RequestBodyRead", found[0])
        assert isinstance(body, dict)
        for edge in ("start", "end"):
            if edge in body:
                _instant(body[edge])
        if "start" in body and "end" in body and _instant(body["end"]) <= _instant(body["start"]):
            raise BadRequest("ErrorInvalidTimeRange", "The end time must be after the start time.")
        if body.get("isAllDay"):
            for edge in ("start", "end"):
                moment = dt.datetime.fromisoformat(str(body[edge]["dateTime"]))
                if moment.time() != dt.time(0):
                    raise BadRequest("ErrorPropertyValidationFailure", "All-day events must start and end at midnight.")
        return dict(body)

    @staticmethod
    def _view(request: SimRequest, event: dict[str, Any]) -> dict[str, Any]:
        """The event as Graph returns it under the request's preferences (and ``$select``)."""
        prefer = dict(_PREFERENCE.findall(",".join(v for k, v in request.headers.items() if k == "prefer")))
        zone = prefer.get("outlook.timezone", "UTC")
        view = {k: copy.deepcopy(v) for k, v in event.items()
                if not k.startswith("_") and k not in ("singleValueExtendedProperties", "transactionId")}
        if event.get("transactionId"):
            view["transactionId"] = event["transactionId"]
        for edge in ("start", "end"):
            if edge in event:
                local = _instant(event[edge]).astimezone(ZoneInfo(zone)).replace(tzinfo=None)
                view[edge] = {"dateTime": local.isoformat(timespec="microseconds") + "0", "timeZone": zone}
        body = event.get("body") or {}
        if prefer.get("outlook.body-content-type") == "text":
            text = body.get("content", "")
            if body.get("contentType") == "html":
                text = html.unescape(re.sub(r"<[^>]*>", "", text))
            view["body"] = {"contentType": "text", "content": text}
        elif body.get("contentType", "text") == "text":
            escaped = html.escape(body.get("content", "")).replace("\n", "<br>\r\n")
            page = f"<html>\r\n<head>\r\n</head>\r\n<body>\r\n<div>{escaped}</div>\r\n</body>\r\n</html>"
            view["body"] = {"contentType": "html", "content": page}
        selected = request.param("$select")
        if selected:
            keep = {s.strip() for s in selected.split(",")} | {"id", "@odata.etag"}
            view = {k: v for k, v in view.items() if k in keep}
        return view


def _instant(value: Any) -> dt.datetime:
    try:
        moment = dt.datetime.fromisoformat(str(value["dateTime"]))
        zone = ZoneInfo(str(value["timeZone"]))
    except (KeyError, TypeError, ValueError, ZoneInfoNotFoundError):
        raise BadRequest("ErrorTimeZoneNotSupportedException"
                         if isinstance(value, dict) and "dateTime" in value else "ErrorInvalidRequest",
                         "A valid dateTime and an IANA timeZone are required.") from None
    return moment.replace(tzinfo=zone) if moment.tzinfo is None else moment
