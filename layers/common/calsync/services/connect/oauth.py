"""Connecting Google Calendar or Microsoft 365 / Outlook.com: consent (authorization code + PKCE S256,
a one-time ``state`` stored with a TTL, the exact redirect URI, the fewest scopes the choices need), then
the dedicated calendar (or the list to pick from), then ``setup``.

``start`` stores the state — only its SHA-256 is the key — together with the flow (PKCE verifier, nonce)
and the clinician's choices, and returns the provider's authorization URL. ``finish`` takes the state
back exactly once (a replayed or forged one finds nothing), checks that it belongs to this browser's
session, redeems the code through the provider's library, checks the granted scopes (and revokes a
consent that is short of them), and connects.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from calsync.core.errors import CalSyncError, ProviderError
from calsync.core.settings import get_settings
from calsync.domain import connect as rules
from calsync.domain import integration_values
from calsync.domain.connect import CalendarTarget, Choices
from calsync.domain.model import Integration, Provider
from calsync.http.bearer import BearerSession, shared_client
from calsync.oauth import consent
from calsync.oauth.consent import ConsentError, Grant, StaticToken
from calsync.providers import calendars
from calsync.services.connect import apps, setup
from calsync.store import connect as store


class NotOffered(CalSyncError):
    """The provider is not configured in this deployment."""


@dataclass(frozen=True)
class Connected:
    integration: Integration
    needs_calendar_choice: bool


def start(session: store.Session, choices: Choices, now: dt.datetime | None = None) -> str:
    """The authorization URL for ``choices.provider``; the state waits in the store for the callback."""
    now = now or dt.datetime.now(dt.UTC)
    client = apps.client(choices.provider)
    if client is None:
        raise NotOffered(choices.provider.value)
    settings = get_settings()
    state = rules.new_secret()
    redirect = apps.redirect_uri(choices.provider)
    if choices.provider is Provider.GOOGLE:
        scopes = [*rules.google_scopes(choices.direction, choices.target), *rules.GOOGLE_IDENTITY_SCOPES]
        url, flow = consent.google_start(client, scopes, redirect, state, authorize_uri=settings.google_authorize_uri,
                                         token_uri=settings.google_token_uri)
    else:
        url, flow = consent.microsoft_start(client, rules.microsoft_scopes(choices.direction), redirect, state,
                                            authority=apps.microsoft_authority(),
                                            http=lambda: shared_client("microsoft"))
    store.put_state(rules.digest(state), session.link_hash, choices.provider.value, flow,
                    choices.model_dump(mode="json"), now, now + rules.STATE_LIFETIME)
    return url


def finish(provider: Provider, session: store.Session, params: Mapping[str, str],
           now: dt.datetime | None = None) -> Connected:
    """Completes a consent the provider sent back (``params``: the callback's query or form)."""
    now = now or dt.datetime.now(dt.UTC)
    taken = store.take_state(rules.digest(params.get("state") or ""), now) if params.get("state") else None
    if taken is None or taken.provider != provider.value:
        raise ConsentError("state_unknown")  # forged, replayed, expired, or another provider's
    if taken.link_hash != session.link_hash:
        raise ConsentError("state_of_another_session")  # started in another browser
    if params.get("error"):
        raise ConsentError("access_denied" if params["error"] == "access_denied" else "provider_refused")
    choices = Choices.model_validate(taken.choices)
    client = apps.client(provider)
    if client is None:
        raise NotOffered(provider.value)
    settings = get_settings()
    if provider is Provider.GOOGLE:
        grant = consent.google_finish(client, taken.flow, params.get("code") or "",
                                      authorize_uri=settings.google_authorize_uri, token_uri=settings.google_token_uri,
                                      timeout=settings.provider_timeout_seconds)
        asked = rules.google_scopes(choices.direction, choices.target)  # the identity scopes are optional
    else:
        grant = consent.microsoft_finish(client, taken.flow, params, authority=apps.microsoft_authority(),
                                         http=lambda: shared_client("microsoft"))
        asked = rules.microsoft_scopes(choices.direction)
    if rules.missing_scopes(asked, list(grant.scopes)):
        withdraw(provider, grant)
        raise ConsentError("scopes_missing")
    return _connect(session, choices, grant)


def withdraw(provider: Provider, grant: Grant) -> None:
    """Gives back a consent calsync will not use (Google: revoked; Microsoft: simply never stored)."""
    if provider is Provider.GOOGLE:
        with contextlib.suppress(ProviderError):  # best effort: the token was never stored anywhere
            consent.google_revoke(str(grant.secret["refresh_token"]), revoke_uri=get_settings().google_revoke_uri,
                                  client=shared_client("google"))


def _connect(session: store.Session, choices: Choices, grant: Grant) -> Connected:
    settings = get_settings()
    provider = choices.provider
    options: dict[str, str] = {}  # the workers refresh with the deployment's OAuth client, as the page did
    if grant.directory_tenant:
        options[integration_values.MICROSOFT_TENANT] = grant.directory_tenant  # its sign-ins go to that directory
    existing = setup.reconnect_target(session)
    if existing is not None and existing.provider is provider:
        return Connected(setup.reconnect(session, existing, grant.secret), False)
    tokens = StaticToken(grant.access_token)
    if provider is Provider.GOOGLE:
        http = BearerSession("google", tokens, shared_client("google"))
        api = settings.google_api_base
    else:
        http = BearerSession("microsoft", tokens, shared_client("microsoft"))
        api = settings.graph_api_base
    calendar_id = "primary" if provider is Provider.GOOGLE else ""
    if choices.direction.pushes and choices.target is CalendarTarget.DEDICATED:
        if provider is Provider.GOOGLE:
            calendar_id = calendars.google_create(http, api, rules.DEDICATED_CALENDAR)
        else:
            calendar_id = calendars.microsoft_create(http, api, rules.DEDICATED_CALENDAR)
        options[setup.DEDICATED_OPTION] = "true"
    integration = setup.create(session, choices, grant.secret, calendar_id=calendar_id, options=options,
                               awaiting_calendar=choices.needs_calendar_choice, account=grant.account)
    return Connected(integration, choices.needs_calendar_choice)


def calendars_of(integration: Integration) -> list[calendars.Calendar]:
    """The clinician's calendars, through the integration's stored consent (the pick-a-calendar step)."""
    from calsync.services import writers

    settings = get_settings()
    tokens: Any = writers.token_source(integration)
    if integration.provider is Provider.GOOGLE:
        return calendars.google_calendars(BearerSession("google", tokens, shared_client("google")),
                                          settings.google_api_base)
    return calendars.microsoft_calendars(BearerSession("microsoft", tokens, shared_client("microsoft")),
                                         settings.graph_api_base)
