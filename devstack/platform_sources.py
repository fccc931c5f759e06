"""Connects a tenant's booking-platform sources on the local stack, the way an EHR's settings page would:
settings in the intake table, credentials in Secrets Manager, a secret URL issued for the platforms that
cannot sign, and the platform simulator expecting calsync's API token."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from calsync.platforms import registry, sources
from calsync.platforms.base import Scheme
from calsync.platforms.source import Source
from devstack.sim_platforms import PlatformSimulator
from devstack.stack import LocalStack

PRACTICE = ("main-street", "Main Street Family Practice")
ZONE = "America/New_York"


@dataclass(frozen=True)
class ConnectedSource:
    tenant_id: str
    platform: str
    scheme: Scheme
    signing_secret: str
    path_secret: str | None

    @property
    def path(self) -> str:
        base = f"/webhooks/platforms/{self.platform}/{self.tenant_id}"
        return f"{base}/{self.path_secret}" if self.path_secret else base


def connect_source(stack: LocalStack, sim: PlatformSimulator, tenant_id: str, platform: str, *,
                   practitioners: dict[str, str], default_practitioner_id: str | None = None,
                   signing_secret: str, api_token: str, options: dict[str, Any] | None = None) -> ConnectedSource:
    found = registry.get(platform)
    if found is None:
        raise ValueError(f"no platform {platform}")
    sources.save(Source(tenant_id=tenant_id, platform=platform, practice_id=PRACTICE[0], practice_name=PRACTICE[1],
                        timezone=ZONE, practitioners=practitioners, default_practitioner_id=default_practitioner_id,
                        api_base_url=sim.base_url(platform), options=dict(options or {})))
    stack.put_secret(sources.secret_name(tenant_id, platform),
                     {"signing_secret": signing_secret, "api_auth": {"bearer": api_token}})
    sim.require_headers(platform, {"Authorization": f"Bearer {api_token}"})
    path_secret = sources.issue_path_secret(tenant_id, platform) if found.scheme is Scheme.SECRET_URL else None
    return ConnectedSource(tenant_id, platform, found.scheme, signing_secret, path_secret)


SERVE_SECRET = "local-signing-secret"
SERVE_API_TOKEN = "local-platform-api-token"


@contextmanager
def serve_platforms(stack: LocalStack, tenant_id: str, practitioner_id: str) -> Iterator[list[str]]:
    """``make serve``'s booking platforms: the API simulator and the webhook routes on 127.0.0.1, and a source of
    every webhook platform for ``tenant_id`` whose staff member ``staff`` is ``practitioner_id`` (the simulator
    answers fetch-backs only for what is ``put`` into it). Yields the lines that tell how to reach them."""
    from devstack.webhook_server import WebhookServer

    with PlatformSimulator() as sim, WebhookServer() as server:
        lines = ["", f"booking-platform webhooks  {server.url}   (platform API simulator: {sim.url})",
                 f"  tenant {tenant_id}; staff id 'staff' on every platform is {practitioner_id}; "
                 f"signing secret {SERVE_SECRET!r} (docs/booking-platforms.md: how each platform signs)"]
        for platform in registry.all_platforms():
            if platform.scheme is Scheme.EXPORT:
                continue
            connected = connect_source(stack, sim, tenant_id, platform.name, practitioners={"staff": practitioner_id},
                                       signing_secret=SERVE_SECRET, api_token=SERVE_API_TOKEN)
            lines.append(f"  {platform.name:14s} POST {server.url}{connected.path}")
        yield lines
