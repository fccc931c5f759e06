"""Connect links: the EHR's backend asks for one per clinician; the clinician opens it once.

A link is signed by KMS (``calsync.aws.mac``), names its tenant and practitioner, expires after
``LINK_LIFETIME`` and is claimed once (``calsync.store.connect.claim_link``): claiming it opens a browser
session, and a second claim (a replay, a forwarded link) is refused. Checking a link changes nothing, so
a link scanner that fetches it does not use it up: only the clinician's "Start" does.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import quote

from calsync.aws import mac
from calsync.core.errors import ConfigurationError
from calsync.core.settings import get_settings
from calsync.domain import connect as rules
from calsync.domain.connect import LinkClaims
from calsync.store import connect as store

OPEN_PATH = "/connect/open"


class LinkProblem(StrEnum):
    INVALID = "invalid"    # not a link, or its signature does not match (tampered)
    EXPIRED = "expired"
    USED = "used"          # claimed already


@dataclass(frozen=True)
class IssuedLink:
    url: str
    expires_at: dt.datetime


def public_base() -> str:
    base = get_settings().public_base_url
    if not base:
        raise ConfigurationError("CALSYNC_PUBLIC_BASE_URL is not set: the connect page is off")
    return base.rstrip("/")


def create(tenant_id: str, practitioner_id: str, reconnect_id: str | None = None,
           now: dt.datetime | None = None) -> IssuedLink:
    """A new connect link for this clinician (to reconnect ``reconnect_id``, when given)."""
    now = now or dt.datetime.now(dt.UTC)
    claims = LinkClaims(rules.new_secret(), tenant_id, practitioner_id,
                        (now + rules.LINK_LIFETIME).replace(microsecond=0), reconnect_id)
    token = rules.encode_link(claims, mac.sign(claims.payload()))
    store.put_link(rules.digest(claims.link_id), tenant_id, practitioner_id, reconnect_id, now, claims.expires_at)
    return IssuedLink(f"{public_base()}{OPEN_PATH}?link={quote(token, safe='')}", claims.expires_at)


def check(token: str, now: dt.datetime | None = None) -> LinkClaims | LinkProblem:
    """The link's claims if it can still be claimed; otherwise why not. Changes nothing."""
    now = now or dt.datetime.now(dt.UTC)
    try:
        claims, payload, signature = rules.decode_link(token)
    except rules.MalformedLinkError:
        return LinkProblem.INVALID
    if not mac.verify(payload, signature):
        return LinkProblem.INVALID
    if claims.expired(now):
        return LinkProblem.EXPIRED
    record = store.get_link(rules.digest(claims.link_id))
    if record is None or record.tenant_id != claims.tenant_id or record.practitioner_id != claims.practitioner_id:
        return LinkProblem.INVALID
    if record.claimed:
        return LinkProblem.USED
    return claims


def claim(token: str, now: dt.datetime | None = None) -> tuple[store.Session, str] | LinkProblem:
    """Claims the link: a new session and the secret for its cookie, or why not (nothing changes then)."""
    now = now or dt.datetime.now(dt.UTC)
    checked = check(token, now)
    if isinstance(checked, LinkProblem):
        return checked
    secret = rules.new_secret()
    session = store.claim_link(rules.digest(checked.link_id), rules.digest(secret), now,
                               now + rules.SESSION_LIFETIME)
    if session is None:  # claimed (or expired) between the check and the claim
        return LinkProblem.USED
    return session, secret
