"""Access tokens in process memory, so a warm invocation neither reads Secrets Manager nor calls a
token endpoint. A token is handed out until ``REFRESH_MARGIN_SECONDS`` before it expires, which leaves
room for a batch of provider calls (and for clock skew) on the last token handed out."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

REFRESH_MARGIN_SECONDS = 300.0


@dataclass(frozen=True)
class AccessToken:
    value: str
    expires_at: float
    """Seconds since the epoch (wall clock: the token endpoint speaks in absolute lifetimes)."""

    def usable(self, now: float | None = None) -> bool:
        return (now if now is not None else time.time()) < self.expires_at - REFRESH_MARGIN_SECONDS


_lock = threading.Lock()
_tokens: dict[str, AccessToken] = {}
_refresh_locks: dict[str, threading.Lock] = {}


def usable(key: str) -> AccessToken | None:
    """The remembered token for ``key`` if it is still good for a while, else None."""
    with _lock:
        token = _tokens.get(key)
    return token if token is not None and token.usable() else None


def remember(key: str, token: AccessToken) -> None:
    with _lock:
        _tokens[key] = token


def drop(key: str | None = None) -> None:
    """Forgets one token (all of them without an argument): after a 401, a lost grant, a reconnect."""
    with _lock:
        if key is None:
            _tokens.clear()
        else:
            _tokens.pop(key, None)


def drop_secret(secret_ref: str) -> None:
    """Forgets every token obtained with this secret (keys are ``kind|secret_ref[|tenant]``): a reconnect."""
    with _lock:
        for key in [k for k in _tokens if k.split("|")[1:2] == [secret_ref]]:
            del _tokens[key]


def refresh_lock(key: str) -> threading.Lock:
    """One refresh at a time per key within this process (other processes are handled by the secret's
    compare-and-swap)."""
    with _lock:
        return _refresh_locks.setdefault(key, threading.Lock())
