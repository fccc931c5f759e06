"""Token errors to calsync errors, and the in-memory token source: hand out while usable, refresh
one at a time per integration, renew after a 401 only if nobody else did, forget a lost grant."""

from __future__ import annotations

import threading
import time

import pytest

from calsync.core.errors import REAUTH_REQUIRED, ProviderAuthError, ProviderRateLimitedError, ProviderUnavailableError
from calsync.http.outcomes import token_error
from calsync.oauth import memory
from calsync.oauth.memory import REFRESH_MARGIN_SECONDS, AccessToken
from calsync.oauth.source import CachedTokenSource


@pytest.mark.parametrize(("code", "status", "expected", "reason"), [
    ("invalid_grant", 400, ProviderAuthError, REAUTH_REQUIRED),
    ("interaction_required", 400, ProviderAuthError, REAUTH_REQUIRED),
    ("consent_required", 400, ProviderAuthError, REAUTH_REQUIRED),
    ("invalid_client", 401, ProviderAuthError, "token_invalid_client"),
    (None, 429, ProviderRateLimitedError, "token_rate_limited"),
    ("temporarily_unavailable", 400, ProviderUnavailableError, "token_temporarily_unavailable"),
    (None, 503, ProviderUnavailableError, "token_unavailable"),
])
def test_token_errors_map_to_calsync_errors(code, status, expected, reason):
    error = token_error("google", code, status, 9.0)
    assert type(error) is expected and error.reason == reason
    if isinstance(error, ProviderRateLimitedError | ProviderUnavailableError):
        assert error.retry_after == 9.0


class Counting(CachedTokenSource):
    def __init__(self, key: str, lifetime: float = 3600, fail: Exception | None = None) -> None:
        super().__init__(key)
        self.obtained: list[bool] = []
        self._lifetime, self._fail = lifetime, fail

    def _obtain(self, force: bool) -> AccessToken:
        self.obtained.append(force)
        time.sleep(0.01)  # let concurrent callers pile up on the lock
        if self._fail is not None:
            raise self._fail
        return AccessToken(f"token-{len(self.obtained)}", time.time() + self._lifetime)


@pytest.fixture(autouse=True)
def _clean_memory():
    memory.drop()
    yield
    memory.drop()


def test_a_usable_token_is_handed_out_without_a_refresh():
    source = Counting("k1")
    assert [source.access_token() for _ in range(3)] == ["token-1"] * 3
    assert source.obtained == [False]


def test_a_token_near_its_expiry_is_refreshed():
    source = Counting("k2", lifetime=REFRESH_MARGIN_SECONDS - 1)
    source.access_token()
    source.access_token()
    assert source.obtained == [False, False]


def test_concurrent_callers_share_one_refresh():
    source = Counting("k3")
    threads = [threading.Thread(target=source.access_token) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert source.obtained == [False]


def test_renew_forces_a_refresh_unless_another_caller_already_renewed():
    source = Counting("k4")
    first = source.access_token()
    second = source.renew(rejected=first)
    assert (second, source.renew(rejected=first)) == ("token-2", "token-2")
    assert source.obtained == [False, True]


def test_a_lost_grant_leaves_nothing_in_memory():
    source = Counting("k5")
    memory.remember("k5", AccessToken("old", time.time() + 3600))
    source._fail = ProviderAuthError("google", REAUTH_REQUIRED)
    with pytest.raises(ProviderAuthError):
        source.renew(rejected="old")
    assert memory.usable("k5") is None


def test_a_reconnect_forgets_the_tokens_of_that_secret_only():
    later = time.time() + 3600
    for key in ("google|arn-1", "microsoft-delegated|arn-1|common", "google|arn-10"):
        memory.remember(key, AccessToken(key, later))
    memory.drop_secret("arn-1")
    assert [memory.usable(k) is not None for k in ("google|arn-1", "microsoft-delegated|arn-1|common",
                                                   "google|arn-10")] == [False, False, True]
