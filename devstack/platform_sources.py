"""Connects a tenant's booking-platform sources on the local stack, the way an EHR's settings page would:
settings in the intake table, calsync registered as a sender for the tenant, credentials in Secrets Manager
(named and tagged in the tenant's namespace), a secret URL issued for the platforms that cannot sign, and the
platform simulator expecting calsync's API token.

Imports calsync, so it is used only once the deployment's environment is in place.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from calsync.platforms import registry
from calsync.platforms.base import Scheme
from calsync.platforms.source import Source
from calsync.services.platforms import sources
from devstack.sims.platforms import PlatformSimulator
from devstack.stack import ACCOUNT_ID, LocalStack

PRACTICE = ("main-street", "Main Street Family Practice")
ZONE = "America/New_York"
SAMPLE_STAFF = "staff"
"""The staff, user or calendar id every sample source of ``make serve`` maps to its clinician."""
SAMPLE_SIGNING_SECRET = "local-signing-secret"
SAMPLE_API_TOKEN = "local-platform-api-token"


@dataclass(frozen=True)
class ConnectedSource:
    tenant_id: str
    platform: str
    scheme: Scheme
    signing_secret: str
    path_secret: str | None

    @property
    def path(self) -> str:
        """The webhook path the platform is configured to call (with the secret, for secret-URL platforms)."""
        base = f"/webhooks/platforms/{self.platform}/{self.tenant_id}"
        return f"{base}/{self.path_secret}" if self.path_secret else base


def store_credentials(tenant_id: str, platform: str, value: dict[str, Any]) -> None:
    """The source's secret, created (or overwritten) by calsync under the tenant's name and tag."""
    sources.store_credentials(tenant_id, platform, value)


def connect_source(stack: LocalStack, sim: PlatformSimulator, tenant_id: str, platform: str, *,
                   practitioners: dict[str, str], default_practitioner_id: str | None = None,
                   signing_secret: str, api_token: str, options: dict[str, Any] | None = None) -> ConnectedSource:
    found = registry.get(platform)
    if found is None:
        raise ValueError(f"no platform {platform}")
    sources.connect(Source(tenant_id=tenant_id, platform=platform, practice_id=PRACTICE[0],
                           practice_name=PRACTICE[1], timezone=ZONE, practitioners=practitioners,
                           default_practitioner_id=default_practitioner_id, api_base_url=sim.base_url(platform),
                           options=dict(options or {})), account=ACCOUNT_ID)
    store_credentials(tenant_id, platform, {"signing_secret": signing_secret,
                                                   "api_auth": {"bearer": api_token}})
    sim.require_headers(platform, {"Authorization": f"Bearer {api_token}"})
    path_secret = sources.issue_path_secret(tenant_id, platform) if found.scheme is Scheme.SECRET_URL else None
    return ConnectedSource(tenant_id, platform, found.scheme, signing_secret, path_secret)


def seed(stack: LocalStack, sim: PlatformSimulator, tenant_id: str, practitioner_id: str) -> list[ConnectedSource]:
    """``make serve``'s booking platforms: a source of every webhook platform for ``tenant_id`` whose staff
    member :data:`SAMPLE_STAFF` is ``practitioner_id`` (the simulator answers fetch-backs only for what is
    ``put`` into it). Export platforms need an export to poll, so they are left out."""
    return [connect_source(stack, sim, tenant_id, platform.name, practitioners={SAMPLE_STAFF: practitioner_id},
                           signing_secret=SAMPLE_SIGNING_SECRET, api_token=SAMPLE_API_TOKEN)
            for platform in registry.all_platforms() if platform.scheme is not Scheme.EXPORT]
