"""Connects sample clinicians to calendars on the local stack, the way the connect page will:
discover the calendar, keep the credentials in Secrets Manager, store the integration."""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from calsync.domain.model import Integration, IntegrationStatus, PrivacySettings, Provider
from calsync.providers.caldav_discovery import find_or_create_calendar
from calsync.store import integrations
from devstack.stack import LocalStack

CALENDAR_NAME = "Clinic appointments"


@dataclass(frozen=True)
class CalDavClinician:
    """A clinician connected to a Radicale calendar, and how to read that calendar back."""

    integration: Integration
    username: str
    password: str

    @property
    def calendar_url(self) -> str:
        return self.integration.calendar_id


def connect_caldav(stack: LocalStack, *, tenant_id: str, practitioner_id: str, privacy: PrivacySettings,
                   username: str | None = None, password: str | None = None,
                   practice_filter: frozenset[str] = frozenset()) -> CalDavClinician:
    """Creates the Radicale account, discovers (or makes) the calendar through calsync's discovery,
    stores the app-specific password in Secrets Manager and the integration in DynamoDB."""
    username = username or f"{practitioner_id}-{tenant_id}"[:64]
    password = password or f"app-{username}-pw"
    stack.radicale.add_user(username, password)
    with httpx.Client(auth=(username, password), timeout=10) as client:
        calendar_url = find_or_create_calendar(client, stack.ports.radicale_url, CALENDAR_NAME, local_development=True)
    integration_id = f"int-{tenant_id}-{practitioner_id}-caldav"
    secret_arn = stack.put_secret(tenant_id, f"integrations/{integration_id}",
                                  {"username": username, "password": password})
    integration = Integration(
        integration_id=integration_id, tenant_id=tenant_id, practitioner_id=practitioner_id,
        provider=Provider.CALDAV, calendar_id=calendar_url, privacy=privacy, secret_ref=secret_arn,
        status=IntegrationStatus.PENDING, practice_filter=practice_filter,
    )
    integrations.put(integration)
    stack.allow_ehr(tenant_id)
    return CalDavClinician(integration, username, password)
