"""Feed URL tokens: capabilities of 256 random bits, stored only as their SHA-256.

A plain (unsalted, fast) hash is enough here: the input is 256 bits of randomness, so there is
nothing to guess or precompute, and a fast hash keeps the lookup to one GetItem by key.
"""

from __future__ import annotations

import hashlib
import re
import secrets

TOKEN_BYTES = 32  # 256 bits
TOKEN_ID_BYTES = 6
FILE_SUFFIX = ".ics"
_TOKEN_PATTERN = re.compile(r"[A-Za-z0-9_-]{43}")  # base64url of 32 bytes, unpadded


def new_token() -> str:
    """A fresh token (43 URL-safe characters)."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def new_token_id() -> str:
    """A short public handle for a token, for logs and management screens."""
    return "tok_" + secrets.token_hex(TOKEN_ID_BYTES)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("ascii")).hexdigest()


def token_from_file_name(file_name: str) -> str | None:
    """The token in a ``<token>.ics`` path segment, or None when it cannot be one of ours (answered
    404 without touching the database)."""
    if not file_name.endswith(FILE_SUFFIX):
        return None
    token = file_name[: -len(FILE_SUFFIX)]
    return token if _TOKEN_PATTERN.fullmatch(token) else None


def feed_url(base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}/feeds/{token}{FILE_SUFFIX}"
