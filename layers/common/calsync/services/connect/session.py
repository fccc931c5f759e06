"""The browser session a claimed link opens: a cookie holding the link's hash and a session secret, checked
against the stored hash on every request; and the CSRF token of its forms, derived from the secret.

The cookie is ``HttpOnly``, ``SameSite=Lax`` (sent on the top-level GET back from Google's consent, not
on another site's POST) and ``Secure`` under the ``__Host-`` prefix, except in local development, where
the page is plain http on loopback.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac

from calsync.core.settings import get_settings
from calsync.domain import connect as rules
from calsync.store import connect as store


def cookie_name() -> str:
    return "calsync-connect" if get_settings().local_development else "__Host-calsync-connect"


def cookie_value(session: store.Session, secret: str) -> str:
    return f"{session.link_hash}.{secret}"


def cookie_attributes(max_age: int) -> str:
    secure = "" if get_settings().local_development else "; Secure"
    return f"Path=/; Max-Age={max_age}; HttpOnly; SameSite=Lax{secure}"


def from_cookie(value: str | None, now: dt.datetime | None = None) -> tuple[store.Session, str] | None:
    """The live session a cookie names, with its secret; None for anything else."""
    if not value or value.count(".") != 1 or len(value) > 256:
        return None
    link_hash, secret = value.split(".")
    found = store.session(link_hash, rules.digest(secret), now or dt.datetime.now(dt.UTC))
    return (found, secret) if found is not None else None


def csrf_token(secret: str) -> str:
    """The token every form of the session carries: derived from the cookie's secret, never stored."""
    return hmac.new(secret.encode(), b"calsync-connect-csrf", hashlib.sha256).hexdigest()[:32]


def csrf_ok(secret: str, token: str | None) -> bool:
    return token is not None and hmac.compare_digest(csrf_token(secret), token)
