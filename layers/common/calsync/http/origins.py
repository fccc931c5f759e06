"""Where credentials may be sent: the one rule for every user-supplied server (a CalDAV server, a booking
platform's API host; a calendar export, whose URL is itself the credential).

Basic credentials (a CalDAV app-specific password) travel only over https — in local development also
plain http to a loopback address — and never follow a redirect to another origin (scheme, host, port):
a server that redirects elsewhere, or from https to http, would otherwise hand the password to whoever
it names.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from calsync.core.settings import LOOPBACK_HOSTS


def origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    port = parts.port or {"https": 443, "http": 80}.get(parts.scheme)
    return parts.scheme, (parts.hostname or "").lower(), port


def may_carry_credentials(url: str, *, local_development: bool) -> bool:
    """An https URL with a host; in local development also an http URL on a loopback address."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - a port out of range raises here
    except ValueError:
        return False
    if not parts.hostname or parts.username is not None or parts.password is not None:
        return False
    if parts.scheme == "https":
        return True
    return local_development and parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS


def same_origin(first: str, second: str) -> bool:
    return origin(first) == origin(second)
