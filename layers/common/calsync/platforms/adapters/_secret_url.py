"""The family of platforms that cannot sign: a secret URL per tenant, then the booking fetched back.

The platform is configured to call ``/webhooks/platforms/<platform>/<tenant>/<secret>``; the secret (256
random bits, stored only as its SHA-256, several live at once while one is rotated) is what
authenticates the call. The callback's body is used only for the booking's *reference*: the state
calsync publishes is always the one the platform's API returns, so a forged or altered body can at
worst make calsync re-read a booking the platform really has. A reference the platform does not know is
refused as ``unconfirmed``.

None of these platforms sends an event id, so de-duplication is on the published state.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar
from urllib.parse import quote

from calsync.platforms.api import PlatformApi
from calsync.platforms.base import Booking, Notice, Platform, Reason, Rejected, Scheme, WebhookRequest
from calsync.platforms.mapping import readable
from calsync.platforms.source import Source


def callback_fields(request: WebhookRequest) -> Mapping[str, Any]:
    """A callback's fields: a JSON object, or a form."""
    content_type = (request.header("content-type") or "").lower()
    if "x-www-form-urlencoded" in content_type:
        return request.form()
    body = request.json()
    if not isinstance(body, dict):
        raise Rejected(Reason.MALFORMED, 400, ["body is not a JSON object"])
    return body


def _at(fields: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = fields
    for key in path:
        if not isinstance(value, Mapping) or key not in value:
            return None
        value = value[key]
    return value


class SecretUrlPlatform(Platform):
    """Subclasses name where the reference is (``reference_paths``: key paths into the callback, the first
    present wins), the API path that returns the booking (``fetch_path``, with ``{ref}``) and how to read it
    (:meth:`booking`)."""

    scheme = Scheme.SECRET_URL
    reference_paths: ClassVar[tuple[tuple[str, ...], ...]]
    kind_field: ClassVar[str | None] = None
    fetch_path: ClassVar[str]

    def notices(self, request: WebhookRequest, source: Source) -> list[Notice]:
        fields = callback_fields(request)
        with readable():
            value = next((found for path in self.reference_paths if (found := _at(fields, path)) is not None), None)
            if not isinstance(value, str | int) or isinstance(value, bool) or not str(value).strip():
                raise ValueError("no booking reference")
            kind = str(fields.get(self.kind_field, "callback")) if self.kind_field else "callback"
            return [Notice(kind=kind, reference=str(value).strip())]

    def fetch(self, api: PlatformApi, reference: str, source: Source) -> Booking | None:
        found = api.get(self.fetch_path.format(ref=quote(reference, safe="")))
        if found is None:
            return None
        with readable():
            return self.booking(found, source)

    def booking(self, found: Any, source: Source) -> Booking | None:
        raise NotImplementedError
