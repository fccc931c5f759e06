"""What the booking-platform unit tests share: a source per platform, requests, and the sample API."""

from __future__ import annotations

import datetime as dt
from typing import Any

from calsync.platforms.base import WebhookRequest
from calsync.platforms.source import Source
from tests.support.platform_samples import API_HOST, EXPORT_PLATFORMS, STAFF, Sample
from tests.support.platform_signing import headers_for, stamp_body

TENANT = "t-unit"
SECRET = "whsec-unit-0123456789abcdef"


def source(platform: str, **options: Any) -> Source:
    return Source(tenant_id=TENANT, platform=platform, practice_id="main-street",
                  practice_name="Main Street Family Practice", timezone="America/New_York",
                  practitioners={STAFF[platform]: "dr-okafor"} if platform in STAFF else {},
                  default_practitioner_id="dr-okafor" if platform in EXPORT_PLATFORMS else None,
                  options={"organization_id": "00D5e000000SAMPLE", **options})


def url(platform: str) -> str:
    return f"https://{API_HOST}/webhooks/platforms/{platform}/{TENANT}"


def signed(sample: Sample, *, secret: str = SECRET, at: dt.datetime | None = None,
           body: bytes | None = None) -> WebhookRequest:
    """The request the platform would send for ``sample``, signed at ``at`` (now by default);
    ``body`` replaces the signed body after signing (a tampered request)."""
    at = at or dt.datetime.now(dt.UTC)
    raw = sample.with_body(stamp_body(sample.platform, sample.body, at)).raw if not isinstance(
        sample.body, str) else sample.raw
    headers = {"content-type": sample.content_type,
               **{k.lower(): v for k, v in headers_for(sample.platform, secret, raw, url=url(sample.platform),
                                                       at=at).items()}}
    return WebhookRequest("POST", url(sample.platform), headers, body if body is not None else raw)


class SampleApi:
    """Answers fetch-backs from a sample's recorded API responses (``PlatformApi``'s two calls)."""

    def __init__(self, sample: Sample) -> None:
        self.responses = sample.api
        self.calls: list[str] = []

    def get(self, path: str, params: dict[str, str] | None = None) -> Any | None:
        key = path + ("?" + "&".join(f"{k}={v}" for k, v in sorted((params or {}).items()) if k != "properties")
                      if params and set(params) - {"properties"} else "")
        self.calls.append(key)
        return self.responses.get(key)

    def post(self, path: str, body: Any) -> Any | None:
        key = f"{path}#{body['method']}#{body['params'][0]}"
        self.calls.append(key)
        found = self.responses.get(key)
        return {"jsonrpc": "2.0", "id": body.get("id"), "result": found}
