"""What every way of connecting ends with: the credentials in a new secret under the tenant's name, the
integration stored, its first sync scheduled (``lifecycle.connect``: ``pending`` until the first resync is
complete, then ``active``) and its first appointments written at once (:data:`FIRST_SYNCS`) — or, for an
integration in ``error`` whose clinician signed in again, the new consent stored by compare-and-swap and
the parked work replayed (``lifecycle.reconnect``).

When the clinician still has to pick calendars (an existing calendar to write to, or the busy ones for
two-way sync), the integration waits as ``paused`` with reason :data:`AWAITING_CALENDAR`: it is visible
to the EHR (and can be disconnected) but writes nothing until the choice is made.
"""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any

from calsync.aws import secret_store
from calsync.core.errors import CalSyncError, ConfigurationError
from calsync.core.observability import logger
from calsync.domain import integration_values
from calsync.domain.connect import Choices
from calsync.domain.model import Integration, IntegrationStatus, Provider
from calsync.services import lifecycle, sweeper
from calsync.store import connect as store
from calsync.store import integrations

AWAITING_CALENDAR = "awaiting_calendar"
FIRST_SYNCS = 10
"""Appointments a new connection writes before its page answers (the next sweeper run writes the rest): the
clinician sees the first ones arrive at once instead of after the next sweeper tick (up to a minute)."""
DEDICATED_OPTION = integration_values.CREATED_BY_CALSYNC


def new_integration_id() -> str:
    return "int_" + secrets.token_hex(10)


def create(session: store.Session, choices: Choices, secret: dict[str, Any], *, calendar_id: str,
           options: dict[str, str], awaiting_calendar: bool, account: str | None = None) -> Integration:
    """Stores the secret and the integration; schedules the first sync unless calendars are still to pick.
    ``account`` is the address the provider says signed in (never one a request names)."""
    integration_id = new_integration_id()
    secret_ref = secret_store.create(session.tenant_id, integration_id, secret)
    integration = Integration(
        integration_id=integration_id, tenant_id=session.tenant_id, practitioner_id=session.practitioner_id,
        provider=choices.provider, calendar_id=calendar_id, direction=choices.direction, window=choices.window,
        privacy=choices.privacy, secret_ref=secret_ref, options=options, account=account)
    if awaiting_calendar:
        integrations.put(integration.model_copy(update={"status": IntegrationStatus.PAUSED,
                                                        "status_reason": AWAITING_CALENDAR}))
    store.record_integration(session.link_hash, integration_id)
    if not awaiting_calendar:
        start(integration)
    return integration


def start(integration: Integration) -> None:
    """``pending``, the first sync of the window scheduled, and its first appointments written now."""
    lifecycle.connect(integration)
    try:
        sweeper.resync_now(integration.integration_id, dt.datetime.now(dt.UTC),
                           sweeper.Budget(syncs=FIRST_SYNCS, backfill_items=FIRST_SYNCS))
    except CalSyncError as error:  # connected all the same: the next sweeper run writes them
        logger.warning("first appointments not written yet", extra={"integration_id": integration.integration_id,
                                                                    "error": type(error).__name__})


def reconnect_target(session: store.Session) -> Integration | None:
    """The integration this session's link reconnects, if it still belongs to the link's clinician."""
    if session.reconnect_id is None:
        return None
    found = integrations.get(session.reconnect_id)
    if found is None or (found.tenant_id, found.practitioner_id) != (session.tenant_id, session.practitioner_id):
        return None
    return found


def reconnect(session: store.Session, integration: Integration, secret: dict[str, Any]) -> Integration:
    """New consent for an existing integration: stored by compare-and-swap, parked work replayed."""
    if not integration.secret_ref:
        raise ConfigurationError("integration has no secret reference")
    lifecycle.reconnect(integration.integration_id, secret)
    store.record_integration(session.link_hash, integration.integration_id)
    return integrations.get(integration.integration_id) or integration


def session_integration(session: store.Session) -> Integration | None:
    """The integration this session connected (its status page), if any and still the clinician's."""
    if session.integration_id is None:
        return None
    found = integrations.get(session.integration_id)
    if found is None or (found.tenant_id, found.practitioner_id) != (session.tenant_id, session.practitioner_id):
        return None
    return found


def choose_calendars(session: store.Session, calendar_id: str | None, busy: list[str]) -> Integration:
    """The clinician picked where to write (``calendar_id``) and which calendars are busy: the
    integration starts (``pending``, first sync scheduled)."""
    integration = session_integration(session)
    if integration is None or integration.status_reason != AWAITING_CALENDAR:
        raise ConfigurationError("no integration awaits a calendar choice in this session")
    update: dict[str, Any] = {"watch_calendars": tuple(busy)}
    if calendar_id is not None:
        update["calendar_id"] = calendar_id
    chosen = integration.model_copy(update=update)
    start(chosen)
    return chosen


def is_oauth(provider: Provider) -> bool:
    return provider in (Provider.GOOGLE, Provider.MICROSOFT)
