"""HTTP outcomes to calsync errors: the one place that decides what a provider's answer means.

Providers call :func:`raise_for_status` on every response they do not handle themselves. The decision
table (PROVIDERS.md §1.7, §2.5, RFC 4791):

    2xx                      success (no raise)
    401                      ProviderAuthError       (callers refresh the token once before giving up)
    403 + rate-limit reason  ProviderRateLimitedError (Google answers 403 rateLimitExceeded /
                                                       userRateLimitExceeded / quotaExceeded)
    403                      ProviderAuthError       (permission or policy problem: the clinician must act)
    404, 410 on the calendar ProviderGoneError
    412                      ProviderConflictError
    429                      ProviderRateLimitedError (Retry-After honoured)
    408, 5xx                 ProviderUnavailableError (Retry-After honoured when present)
    other 4xx                ProviderRejectedError    (the provider's reason code is kept, never the body text)
"""

from __future__ import annotations

import datetime as dt
import email.utils
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx

from calsync.errors import (
    ProviderAuthError,
    ProviderConflictError,
    ProviderError,
    ProviderGoneError,
    ProviderRateLimitedError,
    ProviderRejectedError,
    ProviderUnavailableError,
)

RATE_LIMIT_REASONS = frozenset({"rateLimitExceeded", "userRateLimitExceeded", "quotaExceeded",
                                "activityLimitReached", "TooManyRequests"})
MAX_RETRY_AFTER_SECONDS = 3600.0

ReasonReader = Callable[[httpx.Response], str | None]


def retry_after_seconds(response: httpx.Response, now: dt.datetime | None = None) -> float | None:
    """Parses ``Retry-After`` (delta-seconds or an HTTP date), capped at an hour."""
    value = response.headers.get("Retry-After")
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return min(float(value), MAX_RETRY_AFTER_SECONDS)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    delta = (when - (now or dt.datetime.now(dt.UTC))).total_seconds()
    return min(max(delta, 0.0), MAX_RETRY_AFTER_SECONDS)


def json_error_reason(response: httpx.Response) -> str | None:
    """The machine-readable reason from a Google (``error.errors[0].reason``) or Graph
    (``error.code``) error body; plain-text bodies yield None. Never the human message."""
    try:
        body: Any = response.json()
    except ValueError:
        return None
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        errors = error.get("errors")
        if isinstance(errors, list) and errors and isinstance(errors[0], dict) and errors[0].get("reason"):
            return str(errors[0]["reason"])[:64]
        if error.get("code") and not isinstance(error.get("code"), int):
            return str(error["code"])[:64]
        if error.get("status"):
            return str(error["status"])[:64]
    if isinstance(error, str):
        return error[:64]
    return None


def raise_for_status(provider: str, response: httpx.Response,
                     reason_reader: ReasonReader = json_error_reason) -> None:
    """Raises the calsync error for a non-2xx response; returns for 2xx."""
    status = response.status_code
    if 200 <= status < 300:
        return
    reason = reason_reader(response) or f"http_{status}"
    retry_after = retry_after_seconds(response)
    if status == 401:
        raise ProviderAuthError(provider, reason, status)
    if status == 403:
        if reason in RATE_LIMIT_REASONS:
            raise ProviderRateLimitedError(provider, reason, status, retry_after)
        raise ProviderAuthError(provider, reason, status)
    if status in (404, 410):
        raise ProviderGoneError(provider, reason, status)
    if status == 412:
        raise ProviderConflictError(provider, reason, status)
    if status == 429:
        raise ProviderRateLimitedError(provider, reason, status, retry_after)
    if status == 408 or status >= 500:
        raise ProviderUnavailableError(provider, reason, status, retry_after)
    raise ProviderRejectedError(provider, reason, status)


@contextmanager
def transport_errors(provider: str) -> Iterator[None]:
    """Timeouts and connection failures become :class:`ProviderUnavailableError`."""
    try:
        yield
    except httpx.TimeoutException:
        raise ProviderUnavailableError(provider, "timeout") from None
    except httpx.TransportError as error:
        raise ProviderUnavailableError(provider, f"transport_{type(error).__name__}") from None


def is_gone(error: ProviderError) -> bool:
    return isinstance(error, ProviderGoneError)


# -- OAuth token endpoints (RFC 6749 §5.2) ---------------------------------------------------------------

REAUTH_REQUIRED = "reauth_required"
GRANT_ERRORS = frozenset({"invalid_grant", "interaction_required", "consent_required", "login_required",
                          "invalid_scope"})
"""The clinician's (or the admin's) consent is gone: revoked, expired, or no longer enough."""
RETRYABLE_TOKEN_ERRORS = frozenset({"temporarily_unavailable", "server_error"})


def token_error(provider: str, error_code: str | None, status: int | None = None,
                retry_after: float | None = None) -> ProviderError:
    """The calsync error for a failed token request (google-auth, msal), from the OAuth ``error`` code
    and, when known, the HTTP status of the token endpoint's answer.

    A lost grant is :class:`ProviderAuthError` with reason ``reauth_required`` (the integration waits
    for the clinician); 429 is rate limiting; 408, 5xx and the retryable OAuth codes are unavailability;
    anything else (``invalid_client``, ``unauthorized_client``, ...) is an auth error naming the code.
    """
    code = (error_code or "").strip()[:48] or None
    if code in GRANT_ERRORS:
        return ProviderAuthError(provider, REAUTH_REQUIRED, status)
    if status == 429:
        return ProviderRateLimitedError(provider, f"token_{code or 'rate_limited'}", status, retry_after)
    if code in RETRYABLE_TOKEN_ERRORS or status == 408 or (status is not None and status >= 500):
        return ProviderUnavailableError(provider, f"token_{code or 'unavailable'}", status, retry_after)
    return ProviderAuthError(provider, f"token_{code or 'rejected'}", status)
