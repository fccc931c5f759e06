"""The token source a provider asks for access tokens: memory first, then one refresh at a time.

Implements ``calsync.http.bearer.TokenSource``: a provider calls ``access_token`` before a request and
``renew`` once after a 401. Failures come out as calsync errors (see ``providers.outcomes.token_error``); a lost grant
is ``ProviderAuthError`` with reason ``reauth_required``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

from calsync.core.errors import ProviderAuthError
from calsync.oauth import memory
from calsync.oauth.memory import AccessToken


class CachedTokenSource(ABC):
    """Hands out the remembered token while it is usable; otherwise obtains one under a per-key lock,
    so concurrent threads of one process refresh once, not once each."""

    def __init__(self, cache_key: str) -> None:
        self.cache_key = cache_key

    def access_token(self) -> str:
        cached = memory.usable(self.cache_key)
        if cached is not None:
            return cached.value
        with memory.refresh_lock(self.cache_key):
            cached = memory.usable(self.cache_key)
            if cached is not None:
                return cached.value
            return self._fetch(force=False)

    def renew(self, rejected: str) -> str:
        with memory.refresh_lock(self.cache_key):
            cached = memory.usable(self.cache_key)
            if cached is not None and cached.value != rejected:
                return cached.value  # another thread renewed it meanwhile
            memory.drop(self.cache_key)
            return self._fetch(force=True)

    def _fetch(self, force: bool) -> str:
        try:
            token = self._obtain(force)
        except ProviderAuthError:
            memory.drop(self.cache_key)
            raise
        memory.remember(self.cache_key, token)
        return token.value

    @abstractmethod
    def _obtain(self, force: bool) -> AccessToken:
        """Gets a token from the secret and the token endpoint; ``force`` skips any token cached there."""
