"""The error tree. Every failure calsync raises on purpose is one of these.

    CalSyncError
    ├── ContractError              an event that breaks the public contract (poison: never retried)
    ├── ConfigurationError         missing or invalid settings, found at cold start
    ├── StoreError                 DynamoDB trouble other than an expected condition failure
    ├── LeaseBusyError             another invocation holds the ledger lease for this item
    └── ProviderError              a calendar provider said no; ``reason`` is a short code, never content
        ├── ProviderAuthError      credentials rejected or revoked: the integration needs the clinician
        ├── ProviderRejectedError  the provider refused this request for good (other 4xx)
        ├── ProviderConflictError  a precondition (etag) failed; the caller re-reads and tries again
        ├── ProviderGoneError      the target calendar no longer exists
        ├── ProviderSyncStateLostError  the provider no longer knows our sync position: read everything again
        └── ProviderRetryableError a later attempt may succeed; ``retry_after`` if the provider said
            ├── ProviderRateLimitedError  slow down (429, Google's rate-limit 403s)
            └── ProviderUnavailableError  5xx, timeout or connection failure

Messages carry identifiers and codes only. No patient detail ever goes into an exception.
"""

from __future__ import annotations

REAUTH_REQUIRED = "reauth_required"
"""Reason of a :class:`ProviderAuthError` (and status reason) when the clinician's consent is gone."""


class CalSyncError(Exception):
    """Base of every error calsync raises on purpose."""


class ContractError(CalSyncError):
    """An incoming event does not satisfy the published contract.

    ``problems`` lists ``(field path, reason)`` pairs; the values themselves are never kept.
    """

    def __init__(self, message: str, problems: list[tuple[str, str]] | None = None) -> None:
        self.problems = problems or []
        detail = "; ".join(f"{path}: {reason}" for path, reason in self.problems)
        super().__init__(f"{message}: {detail}" if detail else message)


class ConfigurationError(CalSyncError):
    """Settings are missing or invalid."""


class StoreError(CalSyncError):
    """DynamoDB failed in a way the caller cannot handle locally (worth retrying the whole change)."""


class LeaseBusyError(CalSyncError):
    """Another invocation is working on the same (integration, appointment) pair right now."""


class ProviderError(CalSyncError):
    """A calendar provider refused or failed a request."""

    retryable = False

    def __init__(self, provider: str, reason: str, status: int | None = None) -> None:
        self.provider = provider
        self.reason = reason
        self.status = status
        super().__init__(f"{provider}: {reason}" + (f" (HTTP {status})" if status else ""))


class ProviderAuthError(ProviderError):
    """The provider rejected our credentials, or the grant behind them was revoked."""


class ProviderRejectedError(ProviderError):
    """The provider refused this request and will refuse it again unchanged."""


class ProviderConflictError(ProviderError):
    """A conditional request lost a race (HTTP 412); re-read and re-apply."""


class ProviderGoneError(ProviderError):
    """The calendar we write to no longer exists."""


class ProviderSyncStateLostError(ProviderError):
    """A sync token, delta link or CalDAV sync token is no longer valid (Google 410, Graph
    ``syncStateNotFound``, WebDAV ``valid-sync-token``): the calendar must be read in full again."""


class ProviderRetryableError(ProviderError):
    """A later attempt may succeed. ``retry_after`` is the provider's own wait in seconds, if it gave one."""

    retryable = True

    def __init__(self, provider: str, reason: str, status: int | None = None,
                 retry_after: float | None = None) -> None:
        super().__init__(provider, reason, status)
        self.retry_after = retry_after


class ProviderRateLimitedError(ProviderRetryableError):
    """Too many requests."""


class ProviderUnavailableError(ProviderRetryableError):
    """The provider is down, slow or unreachable."""
