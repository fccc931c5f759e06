"""End-to-end helpers for booking platforms: a tenant's source on the local stack, signed requests sent to the
deployment's local HTTP API (routed from template.yaml to the real ``functions/on_webhook/app.lambda_handler``
as API Gateway payload 2.0), and the emitted-metric counter."""

from __future__ import annotations

import datetime as dt
import io
import json
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stdout
from dataclasses import dataclass
from typing import Any

from devstack.local_api import LocalApi
from devstack.platform_sources import connect_source, store_credentials
from devstack.sims.platforms import PlatformSimulator
from devstack.stack import LocalStack
from tests.support.platform_samples import API_HOST, EXPORT_PLATFORMS, STAFF, Sample
from tests.support.platform_signing import headers_for, stamp_body

SECRET = "whsec-e2e-5b7d9f1e3a"
API_TOKEN = "api-token-e2e-8c2a"
ORGANIZATION = "00D5e000000SAMPLE"


@dataclass(frozen=True)
class SignedRequest:
    """A webhook as the platform sends it: the path it calls, its headers (``Host`` the public API host the
    signature names) and the raw body."""

    path: str
    headers: dict[str, str]
    body: bytes


@dataclass(frozen=True)
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


def post(request: SignedRequest, api: LocalApi | None = None) -> Reply:
    """Sends ``request`` through the local HTTP API (the session's deployment unless ``api`` is given)."""
    if api is None:
        from tests.conftest import current_deployment

        api = current_deployment().api
    status, headers, body = api.invoke("POST", request.path, request.headers, request.body)
    return Reply(status, dict(headers), body)


class Hook:
    """One tenant's source of one platform on the local stack (settings, secret, the simulator's API)."""

    def __init__(self, stack: LocalStack, sim: PlatformSimulator, tenant_id: str, platform: str, *,
                 practitioner: str = "dr-okafor", options: dict[str, Any] | None = None) -> None:
        self.stack, self.sim, self.tenant_id, self.platform = stack, sim, tenant_id, platform
        connected = connect_source(
            stack, sim, tenant_id, platform,
            practitioners={STAFF[platform]: practitioner} if platform in STAFF else {},
            default_practitioner_id=practitioner if platform in EXPORT_PLATFORMS else None,
            signing_secret=SECRET, api_token=API_TOKEN, options={"organization_id": ORGANIZATION, **(options or {})})
        self.scheme = connected.scheme
        self.path = connected.path
        self.secret_value: dict[str, Any] = {"signing_secret": SECRET, "api_auth": {"bearer": API_TOKEN}}

    def set_secret(self, **values: Any) -> None:
        from calsync.aws import secret_store

        self.secret_value = {**self.secret_value, **values}
        store_credentials(self.tenant_id, self.platform, self.secret_value)
        secret_store.forget()

    def serve(self, sample: Sample) -> None:
        """Lets the simulator answer the sample's fetch-backs."""
        for path, body in sample.api.items():
            self.sim.put(self.platform, path, body)

    def request(self, sample: Sample, *, at: dt.datetime | None = None, secret: str = SECRET,
                body: bytes | None = None, path: str | None = None) -> SignedRequest:
        """The request for ``sample`` signed at ``at``; ``body`` replaces the signed body (tampering)."""
        at = at or dt.datetime.now(dt.UTC)
        signed = sample if isinstance(sample.body, str) else sample.with_body(
            stamp_body(self.platform, sample.body, at))
        raw = signed.raw
        url = f"https://{API_HOST}{path or self.path}"
        headers = {"host": API_HOST, "content-type": sample.content_type,
                   "user-agent": f"{self.platform}-webhooks/1.0",
                   **headers_for(self.platform, secret, raw, url=url, at=at)}
        return SignedRequest(path or self.path, headers, body if body is not None else raw)

    def send(self, sample: Sample, **options: Any) -> Reply:
        self.serve(sample)
        return post(self.request(sample, **options))


@contextmanager
def emitted_metrics() -> Iterator[Counter[tuple[str, str | None]]]:
    """Counts the EMF metrics emitted while the block runs: {(name, reason or None): count}."""
    from calsync.core.observability import metrics

    counts: Counter[tuple[str, str | None]] = Counter()
    buffer = io.StringIO()
    with redirect_stdout(buffer):
        yield counts
        if metrics.metric_set:  # what code outside a handler counted (a handler flushes its own)
            metrics.flush_metrics()
    for line in buffer.getvalue().splitlines():
        if not line.startswith("{") or "_aws" not in line:
            continue
        document = json.loads(line)
        for metric in document["_aws"]["CloudWatchMetrics"][0]["Metrics"]:
            counts[(metric["Name"], document.get("reason"))] += 1
