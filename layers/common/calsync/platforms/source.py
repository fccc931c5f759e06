"""A tenant's booking-platform source: how the platform's bookings become calsync appointments.

Stored as JSON in the intake table (``calsync.store.platform_intake``, kind ``source``); credentials are
not here but in Secrets Manager (``calsync/<tenant>/platforms/<platform>``)::

    {
      "practice": {"id": "main-street", "name": "Main Street Family Practice"},
      "timezone": "America/New_York",               # when the platform names no zone
      "practitioners": {"<platform staff, user or calendar id>": "dr-okafor"},
      "default_practitioner_id": "dr-okafor",       # optional: a one-clinician account
      "api_base_url": "https://clinic.janeapp.com", # optional: per-account API host (Jane, Salesforce)
      "public_url": "https://…/webhooks/…",         # optional: the URL as registered, when the request's differs
      "path_secret_sha256": ["<hex>", …],           # secret-URL platforms: live tokens (rotation: two)
      "poll_minutes": 15,                           # export platforms
      "options": {…}                                # platform specifics (e.g. Salesforce's organization id)
    }
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from calsync.core.errors import ConfigurationError
from calsync.domain.contract import _ID_PATTERN

MIN_POLL_MINUTES = 5


@dataclass(frozen=True)
class Source:
    tenant_id: str
    platform: str
    practice_id: str
    practice_name: str | None
    timezone: str
    practitioners: Mapping[str, str] = field(default_factory=dict)
    default_practitioner_id: str | None = None
    api_base_url: str | None = None
    public_url: str | None = None
    path_secret_hashes: tuple[str, ...] = ()
    poll_minutes: int = 15
    options: Mapping[str, Any] = field(default_factory=dict)

    def practitioner(self, staff_ref: str | None) -> str | None:
        """The calsync practitioner for a platform staff/user/calendar id (the default when unmapped)."""
        if staff_ref is not None and staff_ref in self.practitioners:
            return self.practitioners[staff_ref]
        return self.default_practitioner_id

    def option(self, name: str) -> str | None:
        value = self.options.get(name)
        return str(value) if value is not None else None

    @classmethod
    def from_json(cls, tenant_id: str, platform: str, data: Mapping[str, Any]) -> Source:
        """Validates stored settings; raises :class:`ConfigurationError` naming the bad field."""
        practice = data.get("practice") or {}
        practitioners = data.get("practitioners") or {}
        identifiers = {"practice.id": practice.get("id"),
                       "default_practitioner_id": data.get("default_practitioner_id"),
                       **{f"practitioners.{k}": v for k, v in practitioners.items()}}
        for name, value in identifiers.items():
            if value is not None and not (isinstance(value, str) and re.fullmatch(_ID_PATTERN, value)):
                raise ConfigurationError(f"platform source {platform}: invalid {name}")
        if practice.get("id") is None:
            raise ConfigurationError(f"platform source {platform}: practice.id is required")
        zone = data.get("timezone")
        try:
            ZoneInfo(str(zone))
        except (ZoneInfoNotFoundError, ValueError):
            raise ConfigurationError(f"platform source {platform}: timezone must be an IANA zone") from None
        hashes = data.get("path_secret_sha256") or []
        if not all(isinstance(h, str) and re.fullmatch(r"[0-9a-f]{64}", h) for h in hashes):
            raise ConfigurationError(f"platform source {platform}: path_secret_sha256 must hold SHA-256 hex digests")
        return cls(
            tenant_id=tenant_id, platform=platform, practice_id=practice["id"], practice_name=practice.get("name"),
            timezone=str(zone), practitioners={str(k): str(v) for k, v in practitioners.items()},
            default_practitioner_id=data.get("default_practitioner_id"),
            api_base_url=data.get("api_base_url"), public_url=data.get("public_url"),
            path_secret_hashes=tuple(hashes),
            poll_minutes=max(MIN_POLL_MINUTES, int(data.get("poll_minutes") or 15)),
            options=dict(data.get("options") or {}),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "practice": {"id": self.practice_id, "name": self.practice_name},
            "timezone": self.timezone,
            "practitioners": dict(self.practitioners),
            "default_practitioner_id": self.default_practitioner_id,
            "api_base_url": self.api_base_url,
            "public_url": self.public_url,
            "path_secret_sha256": list(self.path_secret_hashes),
            "poll_minutes": self.poll_minutes,
            "options": dict(self.options),
        }
