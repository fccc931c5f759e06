"""The connect page, step by step. Each function is one request: it checks the session (the cookie a
claimed link set) and the form's CSRF token, does the step, and answers a :class:`~calsync.web.page.Page`
to render or a :class:`~calsync.web.page.Redirect`. What each failure shows is :data:`PROBLEMS`.

    GET  /connect/open?link=…              the link checked (nothing changes): "Start"
    POST /connect/start                    the link claimed once; the session cookie set
    GET  /connect/choose                   Google, Microsoft, iCloud, another CalDAV server, a feed
    GET  /connect/settings?provider=…      direction, calendar, window, privacy with live preview, reminder
    POST /connect/preview                  the preview alone (the page's script asks for it as you choose)
    POST /connect/settings                 OAuth: off to consent; CalDAV: discover, test, connect; feed: its URL
    GET  /connect/oauth/google/callback    Google's answer
    POST /connect/oauth/microsoft/callback Microsoft's answer (form_post), handed on within this site
    POST /connect/oauth/microsoft/finish   … where the session cookie comes along
    GET  /connect/calendars                pick the calendar to write to, and the busy ones
    POST /connect/calendars
    GET  /connect/status                   pending → active, last synced, events written so far
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from pydantic import ValidationError

from calsync.core.errors import ProviderAuthError, ProviderError, ProviderGoneError
from calsync.core.observability import logger
from calsync.core.settings import get_settings
from calsync.domain import connect as rules
from calsync.domain.connect import CalendarTarget, Choices
from calsync.domain.ledger import LedgerState
from calsync.domain.model import (
    ClientDisplay,
    Direction,
    Integration,
    IntegrationStatus,
    PrivacySettings,
    Provider,
    SyncWindow,
)
from calsync.domain.privacy import render
from calsync.http.guarded import ForbiddenAddressError
from calsync.oauth.consent import ConsentError
from calsync.services import feeds
from calsync.services.connect import apps, caldav, links, oauth, session, setup
from calsync.store import connect as store
from calsync.store import ledger
from calsync.web.page import Page, Redirect

Form = Mapping[str, list[str]]
Answer = Page | Redirect


@dataclass(frozen=True)
class Problem:
    status: int
    title: str
    text: str
    again: str = "Ask for a new connect link where you started (your EHR) and try again."


PROBLEMS: dict[str, Problem] = {
    "link_invalid": Problem(400, "This link does not work", "The connect link is incomplete or has been changed."),
    "link_expired": Problem(410, "This link has expired", "Connect links work for 15 minutes after they are made."),
    "link_used": Problem(410, "This link was already used",
                         "Each connect link can be used once. If that was you, your session may have ended."),
    "session": Problem(401, "Your session has ended",
                       "This page only works in the browser that opened the connect link, for one hour."),
    "csrf": Problem(403, "This form has expired", "The page was open too long or came from elsewhere.",
                    "Go back, reload the page and try again."),
    "state": Problem(400, "This sign-in has expired or was already used",
                     "The answer from your calendar provider does not match a sign-in started here.",
                     "Start again from the connect link's page."),
    "denied": Problem(403, "You did not allow access",
                      "Your calendar was not connected, and nothing was stored.",
                      "To connect it, start again and choose Allow."),
    "scopes_missing": Problem(403, "Some permissions were not granted",
                              "calsync needs every permission on the consent page to keep your calendar up to "
                              "date. The access you gave was handed back and nothing was stored.",
                              "Start again and leave every box ticked."),
    "provider_unavailable": Problem(503, "Your calendar provider did not answer",
                                    "Nothing was stored.", "Try again in a few minutes."),
    "not_offered": Problem(404, "This calendar service is not available here",
                           "Your organisation has not set it up.", "Choose another one."),
    "calendar_gone": Problem(409, "The calendar was deleted",
                             "The calendar calsync was writing to no longer exists.",
                             "Ask for a new connect link to choose another one."),
    "not_found": Problem(404, "There is no such page", "The address may be mistyped.",
                         "Open the connect link you were given."),
    "failed": Problem(500, "Something went wrong", "Nothing was stored.", "Please try again in a moment."),
}

KINDS = {  # what the page offers → (provider, CalDAV server, label)
    "google": (Provider.GOOGLE, None, "Google Calendar"),
    "microsoft": (Provider.MICROSOFT, None, "Microsoft 365 or Outlook.com"),
    "icloud": (Provider.CALDAV, caldav.ICLOUD, "iCloud"),
    "caldav": (Provider.CALDAV, "", "Another CalDAV server"),
    "ics": (Provider.ICS, None, "A private calendar feed (ICS)"),
}
CALDAV_PROBLEMS = {  # what a CalDAV failure means, in the clinician's words
    "https_required": "The server address must start with https://.",
    "malformed_address": "That is not a server address.",
    "address_not_allowed": "That address cannot be reached from calsync (it is not a public server).",
    "host_not_found": "No server answers at that address.",
    "redirect_to_other_host": "That server sends visitors to another address: enter that address instead.",
    "href_to_other_site": "That server keeps its calendars on another site: enter that site's address.",
    "calendar_on_other_site": "That calendar is on another site.",
}
REMINDERS = (None, 0, 5, 10, 15, 30, 60, 120, 1440)


def problem(kind: str, **context: Any) -> Page:
    found = PROBLEMS[kind]
    return Page("message.html", {"problem": found, "kind": kind, **context}, status=found.status)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _one(form: Form, name: str, default: str = "") -> str:
    values = form.get(name)
    return values[0] if values else default


def _session(cookie: str | None) -> tuple[store.Session, str] | None:
    return session.from_cookie(cookie, _now())


def consent_origins() -> tuple[str, ...]:
    """Where the settings form's answer may redirect: the providers' consent pages."""
    settings = get_settings()
    origins = []
    for url in (settings.google_authorize_uri, settings.microsoft_login_base):
        parts = urlsplit(url)
        origins.append(f"{parts.scheme}://{parts.netloc}")
    return tuple(origins)


# -- the link ---------------------------------------------------------------------------------------------


def open_link(token: str) -> Answer:
    checked = links.check(token)
    if isinstance(checked, links.LinkProblem):
        return problem(f"link_{checked.value}")
    return Page("open.html", {"link": token, "reconnect": checked.reconnect_id is not None})


def start(form: Form) -> Answer:
    claimed = links.claim(_one(form, "link"))
    if isinstance(claimed, links.LinkProblem):
        return problem(f"link_{claimed.value}")
    found, secret = claimed
    cookie = (f"{session.cookie_name()}={session.cookie_value(found, secret)}; "
              f"{session.cookie_attributes(int(rules.SESSION_LIFETIME.total_seconds()))}")
    return Redirect("/connect/choose", cookie=cookie)


# -- choosing ---------------------------------------------------------------------------------------------


def choose(cookie: str | None) -> Answer:
    current = _session(cookie)
    if current is None:
        return problem("session")
    found, _secret = current
    target = setup.reconnect_target(found)
    if target is not None:
        kind = "google" if target.provider is Provider.GOOGLE else (
            "microsoft" if target.provider is Provider.MICROSOFT else "caldav")
        return Redirect(f"/connect/settings?provider={kind}")
    offered = set(apps.offered())
    kinds = [(key, label) for key, (provider, _server, label) in KINDS.items() if provider in offered]
    return Page("choose.html", {"kinds": kinds})


def _defaults(kind: str) -> dict[str, Any]:
    return {"direction": Direction.PUSH.value, "target": CalendarTarget.DEDICATED.value,
            "window": SyncWindow().model_dump(), "privacy": PrivacySettings().model_dump(mode="json"),
            "server": "", "username": "", "kind": kind}


def _settings_page(found: store.Session, secret: str, kind: str, values: dict[str, Any],
                   errors: list[str] | None = None, status: int = 200) -> Page:
    provider, server, label = KINDS[kind]
    privacy = _privacy(values.get("privacy") or {})
    reconnect = setup.reconnect_target(found)
    return Page("settings.html", {
        "kind": kind, "label": label, "provider": provider.value, "values": values, "errors": errors or [],
        "csrf": session.csrf_token(secret), "preview": preview_of(privacy),
        "displays": [d.value for d in ClientDisplay],
        "reminders": REMINDERS, "fixed_server": server is not None, "reconnect": reconnect is not None,
        "dedicated_name": rules.DEDICATED_CALENDAR, "is_feed": provider is Provider.ICS,
        "is_caldav": provider is Provider.CALDAV,
    }, status=status)


def settings_form(cookie: str | None, kind: str) -> Answer:
    current = _session(cookie)
    if current is None:
        return problem("session")
    if kind not in KINDS:
        return problem("not_offered")
    if KINDS[kind][0] not in apps.offered():
        return problem("not_offered")
    found, secret = current
    values = _defaults(kind)
    target = setup.reconnect_target(found)
    if target is not None:
        values.update(direction=target.direction.value, window=target.window.model_dump(),
                      privacy=target.privacy.model_dump(mode="json"))
    return _settings_page(found, secret, kind, values)


def _privacy(raw: Mapping[str, Any]) -> PrivacySettings:
    try:
        return PrivacySettings.model_validate(raw)
    except ValidationError:
        return PrivacySettings()


def _form_values(form: Form, kind: str) -> dict[str, Any]:
    """The settings form as plain values (checkboxes absent mean off)."""
    reminder = _one(form, "reminder_minutes")
    privacy: dict[str, Any] = {"client_display": _one(form, "client_display", ClientDisplay.INTERNAL_ID.value),
                               "reminder_minutes": int(reminder) if reminder.isdigit() else None}
    for name in ("show_visit_type", "show_location", "show_notes", "show_practice_name", "show_deep_link",
                 "show_telehealth_link", "private_visibility"):
        privacy[name] = _one(form, name) == "on"
    return {"kind": kind, "direction": _one(form, "direction", Direction.PUSH.value),
            "target": _one(form, "target", CalendarTarget.DEDICATED.value),
            "window": {"past_days": _one(form, "past_days", "30"), "future_days": _one(form, "future_days", "365")},
            "privacy": privacy, "server": _one(form, "server"), "username": _one(form, "username")}


def preview_of(privacy: PrivacySettings) -> dict[str, Any]:
    """The sample appointment as the calendar would show it: ``calsync.domain.privacy.render`` itself."""
    shown = render(rules.sample_appointment(), privacy)
    assert shown is not None
    return {"summary": shown.summary, "description": shown.description.split("\n"), "location": shown.location,
            "private": shown.private, "reminder": shown.reminder_minutes, "url": shown.url}


def preview(cookie: str | None, form: Form) -> Answer:
    current = _session(cookie)
    if current is None:
        return problem("session")
    if not session.csrf_ok(current[1], _one(form, "csrf")):
        return problem("csrf")
    privacy = _privacy(_form_values(form, _one(form, "kind", "google"))["privacy"])
    return Page("_preview.html", {"preview": preview_of(privacy)})


def submit_settings(cookie: str | None, form: Form) -> Answer:
    current = _session(cookie)
    if current is None:
        return problem("session")
    found, secret = current
    if not session.csrf_ok(secret, _one(form, "csrf")):
        return problem("csrf")
    kind = _one(form, "kind")
    if kind not in KINDS or KINDS[kind][0] not in apps.offered():
        return problem("not_offered")
    provider, server, _label = KINDS[kind]
    values = _form_values(form, kind)
    try:
        choices = Choices(provider=provider, direction=Direction(values["direction"]),
                          target=CalendarTarget(values["target"]), window=SyncWindow.model_validate(values["window"]),
                          privacy=PrivacySettings.model_validate(values["privacy"]))
    except (ValueError, ValidationError):
        return _settings_page(found, secret, kind, values, ["Some settings are not valid: check the numbers."], 400)
    if provider is Provider.ICS:
        choices = choices.model_copy(update={"direction": Direction.PUSH})
    try:
        if setup.is_oauth(provider):
            return Redirect(oauth.start(found, choices))
        if provider is Provider.CALDAV:
            login = caldav.CalDavLogin(server if server else values["server"], values["username"],
                                       _one(form, "password"))
            integration, _calendars = caldav.connect(found, choices, login)
            return Redirect("/connect/calendars" if choices.needs_calendar_choice and
                            integration.status_reason == setup.AWAITING_CALENDAR else "/connect/status")
        return _feed(found, choices)
    except oauth.NotOffered:
        return problem("not_offered")
    except caldav.ServerAddressError as refused:
        return _settings_page(found, secret, kind, values, [CALDAV_PROBLEMS.get(refused.reason, refused.reason)], 400)
    except ForbiddenAddressError as refused:
        return _settings_page(found, secret, kind, values, [CALDAV_PROBLEMS.get(refused.reason, refused.reason)], 400)
    except ProviderAuthError:
        return _settings_page(found, secret, kind, values,
                              ["The server did not accept that username and app-specific password."], 400)
    except ProviderError as error:
        text = CALDAV_PROBLEMS.get(error.reason) or "The server did not work as a calendar server."
        return _settings_page(found, secret, kind, values, [text], 400 if not error.retryable else 503)
    except ConsentError as error:
        return problem("provider_unavailable" if error.reason == "provider_unavailable" else "failed")


def _feed(found: store.Session, choices: Choices) -> Answer:
    base = get_settings().feed_base_url or get_settings().public_base_url
    integration, issued = feeds.create_feed(found.tenant_id, found.practitioner_id, privacy=choices.privacy,
                                            window=choices.window, base_url=base)
    store.record_integration(found.link_hash, integration.integration_id)
    url = issued.url or ""
    return Page("feed.html", {"url": url, "webcal": "webcal://" + url.split("://", 1)[-1] if url else ""})


# -- coming back from consent -----------------------------------------------------------------------------


def _finished(provider: Provider, cookie: str | None, params: Mapping[str, str]) -> Answer:
    current = _session(cookie)
    if current is None:
        return problem("session")
    found, _secret = current
    try:
        connected = oauth.finish(provider, found, params)
    except ConsentError as error:
        kinds = {"state_unknown": "state", "state_of_another_session": "state", "state_mismatch": "state",
                 "access_denied": "denied", "scopes_missing": "scopes_missing",
                 "provider_unavailable": "provider_unavailable"}
        logger.info("consent not completed", extra={"provider": provider.value, "reason": error.reason})
        return problem(kinds.get(error.reason, "failed"))
    except oauth.NotOffered:
        return problem("not_offered")
    except ProviderError as error:
        logger.warning("connect failed after consent", extra={"provider": provider.value, "reason": error.reason})
        return problem("provider_unavailable" if error.retryable else "failed")
    return Redirect("/connect/calendars" if connected.needs_calendar_choice else "/connect/status")


def google_callback(cookie: str | None, query: Mapping[str, str]) -> Answer:
    return _finished(Provider.GOOGLE, cookie, query)


HANDED_ON = ("code", "state", "client_info", "session_state", "error", "error_description", "error_subcode")


def microsoft_relay(form: Form) -> Answer:
    """Microsoft posts its answer from its own site, so the session cookie (SameSite=Lax) stays home; the
    answer is handed on by a form within this site, where the cookie comes along."""
    fields = [(name, _one(form, name)) for name in HANDED_ON if _one(form, name)]
    return Page("continue.html", {"fields": fields})


def microsoft_finish(cookie: str | None, form: Form) -> Answer:
    return _finished(Provider.MICROSOFT, cookie, {name: _one(form, name) for name in HANDED_ON if _one(form, name)})


# -- picking calendars ------------------------------------------------------------------------------------


def _awaiting(cookie: str | None) -> tuple[store.Session, str, Integration] | Page:
    current = _session(cookie)
    if current is None:
        return problem("session")
    found, secret = current
    integration = setup.session_integration(found)
    if integration is None:
        return problem("session")
    return found, secret, integration


def _calendars(integration: Integration) -> list[tuple[str, str, bool]]:
    if integration.provider is Provider.CALDAV:
        return [(c.url, c.display_name or c.url, False) for c in caldav.calendars_of(integration)]
    return [(c.id, c.name, c.primary) for c in oauth.calendars_of(integration)]


def calendars_page(cookie: str | None) -> Answer:
    found = _awaiting(cookie)
    if isinstance(found, Page):
        return found
    _current, secret, integration = found
    if integration.status_reason != setup.AWAITING_CALENDAR:
        return Redirect("/connect/status")
    try:
        listed = _calendars(integration)
    except ProviderError as error:
        return problem("provider_unavailable" if error.retryable else "failed")
    pick_target = integration.direction.pushes and setup.DEDICATED_OPTION not in integration.options
    return Page("calendars.html", {"calendars": listed, "pick_target": pick_target,
                                   "pick_busy": integration.direction is not Direction.PUSH,
                                   "csrf": session.csrf_token(secret)})


def submit_calendars(cookie: str | None, form: Form) -> Answer:
    found = _awaiting(cookie)
    if isinstance(found, Page):
        return found
    current, secret, integration = found
    if not session.csrf_ok(secret, _one(form, "csrf")):
        return problem("csrf")
    if integration.status_reason != setup.AWAITING_CALENDAR:
        return Redirect("/connect/status")
    try:
        known = {calendar_id for calendar_id, _name, _primary in _calendars(integration)}
    except ProviderError as error:
        return problem("provider_unavailable" if error.retryable else "failed")
    target = _one(form, "calendar") or None
    busy = [value for value in form.get("busy", []) if value in known]
    pick_target = integration.direction.pushes and setup.DEDICATED_OPTION not in integration.options
    if pick_target and target not in known:
        return problem("failed")
    try:
        if pick_target and target is not None and integration.provider is Provider.CALDAV:
            caldav.probe_chosen(integration, target)
        setup.choose_calendars(current, target if pick_target else None, busy)
    except ProviderGoneError:
        return problem("calendar_gone")
    except ProviderError as error:
        return problem("provider_unavailable" if error.retryable else "failed")
    return Redirect("/connect/status")


# -- after connecting -------------------------------------------------------------------------------------

STATUS_TEXT = {
    IntegrationStatus.PENDING: "Connected. The first appointments are on their way.",
    IntegrationStatus.ACTIVE: "Active: appointments are kept up to date.",
    IntegrationStatus.PAUSED: "Paused: nothing is written until it is resumed.",
    IntegrationStatus.ERROR: "calsync cannot write to this calendar right now.",
    IntegrationStatus.DISCONNECTED: "Disconnected.",
}
ERROR_TEXT = {
    "reauth_required": "Access was withdrawn. Ask for a new connect link to sign in again.",
    "calendar_gone": "The calendar was deleted. Ask for a new connect link to choose another one.",
}


def events_written(integration: Integration, limit: int = 1000) -> int:
    count, after = 0, None
    while count < limit:
        entries, after = ledger.page(integration.integration_id, after, 200, (LedgerState.SYNCED,), _now())
        count += len(entries)
        if after is None:
            break
    return count


def status_page(cookie: str | None, fragment: bool = False) -> Answer:
    found = _awaiting(cookie)
    if isinstance(found, Page):
        return found
    _current, _secret, integration = found
    if integration.status_reason == setup.AWAITING_CALENDAR:
        return Redirect("/connect/calendars")
    last = integration.last_synced_at
    context = {
        "status": integration.status.value, "text": STATUS_TEXT[integration.status],
        "reason": ERROR_TEXT.get(integration.status_reason or "", "") if integration.status is
        IntegrationStatus.ERROR else "",
        "provider": next(label for key, (p, _s, label) in KINDS.items() if p is integration.provider
                         and (key != "icloud")),
        "last_synced": last.strftime("%Y-%m-%d %H:%M UTC") if last else None,
        "events": events_written(integration),
    }
    return Page("_status.html" if fragment else "status.html", context)
