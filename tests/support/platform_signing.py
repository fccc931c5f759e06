"""How each platform signs a webhook, written again from the platforms' documentation for the tests.

Nothing here imports calsync: a signature calsync accepts must have been computed independently of
calsync's own verification code, or a test would only prove that the code agrees with itself.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
from typing import Any

SIGNED = ("calendly", "acuity", "square", "hubspot", "calcom", "jane")
TIMESTAMPED = {"calendly": dt.timedelta(minutes=3), "hubspot": dt.timedelta(minutes=5), "jane": dt.timedelta(minutes=5),
               "square": dt.timedelta(days=3), "calcom": dt.timedelta(hours=1)}
"""Platforms whose signed request carries a time, and how far off it may be."""


def _mac(secret: str, message: bytes) -> bytes:
    return hmac.new(secret.encode(), message, hashlib.sha256).digest()


def stamp_body(platform: str, body: Any, at: dt.datetime) -> Any:
    """Puts the send time into the body for platforms that sign it there (Square, Cal.com)."""
    if platform == "square":
        return {**body, "created_at": at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")}
    if platform == "calcom":
        return {**body, "createdAt": at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"}
    return body


def headers_for(platform: str, secret: str, body: bytes, *, url: str, at: dt.datetime,
                method: str = "POST") -> dict[str, str]:
    """The headers a platform sends with ``body``, signed with ``secret`` at ``at``."""
    if platform == "calendly":
        t = str(int(at.timestamp()))
        return {"Calendly-Webhook-Signature": f"t={t},v1={_mac(secret, t.encode() + b'.' + body).hex()}"}
    if platform == "acuity":
        return {"X-Acuity-Signature": base64.b64encode(_mac(secret, body)).decode()}
    if platform == "square":
        return {"x-square-hmacsha256-signature": base64.b64encode(_mac(secret, url.encode() + body)).decode()}
    if platform == "hubspot":
        ms = str(int(at.timestamp() * 1000))
        signature = base64.b64encode(_mac(secret, method.encode() + url.encode() + body + ms.encode())).decode()
        return {"X-HubSpot-Signature-v3": signature, "X-HubSpot-Request-Timestamp": ms}
    if platform == "calcom":
        return {"X-Cal-Signature-256": _mac(secret, body).hex()}
    if platform == "jane":
        t = str(int(at.timestamp()))
        return {"X-Jane-Signature": "sha256=" + _mac(secret, t.encode() + b"." + body).hex(), "X-Jane-Timestamp": t}
    return {}
