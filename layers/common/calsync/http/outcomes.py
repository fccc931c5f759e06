"""What a provider's HTTP answer means: the one place that decides, as tables.

Two questions, two tables:

* :data:`ANSWERS` — for a provider operation, which statuses are expected branches of the protocol
  rather than failures (a 412 on a conditional write means "re-read and re-apply", a 404 on a delete
  means "already done", a 409 on Google's insert means "the id is ours already"). Providers ask
  :func:`answer` and branch on the :class:`Answer`; they never compare status codes themselves.
* :data:`ERRORS` — every other non-2xx status, as a calsync error (first matching row wins):

      401                      ProviderAuthError       (callers refresh the token once before giving up)
      403 + rate-limit reason  ProviderRateLimitedError (Google answers 403 rateLimitExceeded /
                                                        userRateLimitExceeded / quotaExceeded)
      403                      ProviderAuthError       (permission or policy problem: the clinician must act)
      404, 410                 ProviderGoneError
      412                      ProviderConflictError
      429                      ProviderRateLimitedError (Retry-After honoured)
      408, 5xx                 ProviderUnavailableError (Retry-After honoured when present)
      other 4xx                ProviderRejectedError    (the provider's reason code is kept, never the body text)

  :data:`CONTEXT_ERRORS` adds rows for one operation (a CalDAV PUT answered 404 or 409 has no
  calendar to write into).

OAuth token endpoints (RFC 6749 §5.2) answer with an ``error`` code instead: :func:`token_error`.
Both the providers and ``calsync.oauth`` sit above this module.
"""

from __future__ import annotations

import datetime as dt
import email.utils
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import httpx

from calsync.core.errors import (
    REAUTH_REQUIRED,
    ProviderAuthError,
    ProviderConflictError,
    ProviderError,
    ProviderGoneError,
    ProviderRateLimitedError,
    ProviderRejectedError,
    ProviderRetryableError,
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


class Answer(StrEnum):
    """An expected, non-failing answer to a provider operation."""

    DONE = "done"          # 2xx
    MISSING = "missing"    # the resource is not (or no longer) there
    STALE = "stale"        # a precondition (etag) failed: re-read, then re-apply
    TAKEN = "taken"        # the identifier we chose exists already (our earlier attempt, or a revival)


ANSWERS: dict[str, dict[int, Answer]] = {
    "caldav:get": {404: Answer.MISSING},
    "caldav:create": {412: Answer.TAKEN},              # If-None-Match: * met an existing resource
    "caldav:update": {404: Answer.MISSING, 412: Answer.STALE},
    "caldav:delete": {404: Answer.MISSING, 410: Answer.MISSING, 412: Answer.STALE},
    "google:get": {404: Answer.MISSING, 410: Answer.MISSING},
    "google:insert": {409: Answer.TAKEN},               # the client-chosen id exists (even cancelled)
    "google:update": {404: Answer.MISSING, 410: Answer.MISSING, 412: Answer.STALE},
    "google:delete": {404: Answer.MISSING, 410: Answer.MISSING, 412: Answer.STALE},
    "microsoft:create": {409: Answer.TAKEN},           # transactionId seen before
    "microsoft:patch": {404: Answer.MISSING},
    "microsoft:delete": {404: Answer.MISSING},
    "microsoft:create_calendar": {409: Answer.TAKEN},   # a calendar of that name exists: find it instead
    "google:revoke": {400: Answer.MISSING},             # RFC 7009 invalid_token: unknown or revoked already
    "caldav:probe_delete": {404: Answer.MISSING},
}
"""Per ``provider:operation``: the statuses that are branches of the protocol, not failures."""


@dataclass(frozen=True)
class Row:
    statuses: frozenset[int]
    error: type[ProviderError]
    reasons: frozenset[str] | None = None  # only when the provider's reason code is one of these
    reason: str | None = None              # record this reason instead of the provider's


def _statuses(*items: int | range) -> frozenset[int]:
    return frozenset(s for item in items for s in (item if isinstance(item, range) else (item,)))


ERRORS: tuple[Row, ...] = (
    Row(_statuses(401), ProviderAuthError),
    Row(_statuses(403), ProviderRateLimitedError, reasons=RATE_LIMIT_REASONS),
    Row(_statuses(403), ProviderAuthError),
    Row(_statuses(404, 410), ProviderGoneError),
    Row(_statuses(412), ProviderConflictError),
    Row(_statuses(429), ProviderRateLimitedError),
    Row(_statuses(408, range(500, 600)), ProviderUnavailableError),
    Row(_statuses(range(400, 500)), ProviderRejectedError),
)
CONTEXT_ERRORS: dict[str, tuple[Row, ...]] = {
    # WebDAV: a PUT into a collection that does not exist (any more) — the calendar was deleted
    "caldav:create": (Row(_statuses(404, 409), ProviderGoneError, reason="calendar_missing"),),
    "caldav:update": (Row(_statuses(409), ProviderGoneError, reason="calendar_missing"),),
}
REASON_READERS: dict[str, ReasonReader] = {
    "caldav": lambda _response: None,  # CalDAV error bodies are free text: the status code alone is recorded
}


def error_for(provider: str, response: httpx.Response, operation: str | None = None) -> ProviderError:
    """The calsync error for a failed (non-2xx) answer, from the tables."""
    status = response.status_code
    reason = REASON_READERS.get(provider, json_error_reason)(response) or f"http_{status}"
    rows = (*CONTEXT_ERRORS.get(f"{provider}:{operation}", ()), *ERRORS)
    for row in rows:
        if status in row.statuses and (row.reasons is None or reason in row.reasons):
            if issubclass(row.error, ProviderRetryableError):
                return row.error(provider, row.reason or reason, status, retry_after_seconds(response))
            return row.error(provider, row.reason or reason, status)
    return ProviderRejectedError(provider, reason, status)  # 1xx/3xx: nothing we asked for


def answer(provider: str, operation: str, response: httpx.Response) -> Answer:
    """The answer to ``provider:operation``; raises the calsync error when the answer is a failure."""
    status = response.status_code
    if 200 <= status < 300:
        return Answer.DONE
    expected = ANSWERS.get(f"{provider}:{operation}", {}).get(status)
    if expected is not None:
        return expected
    raise error_for(provider, response, operation)


def raise_for_status(provider: str, response: httpx.Response, operation: str | None = None) -> None:
    """Returns for 2xx; raises the calsync error for anything else."""
    if not 200 <= response.status_code < 300:
        raise error_for(provider, response, operation)


def transient(status: int) -> bool:
    """Whether a status means "try again later" (the rows that map to a retryable error)."""
    return any(status in row.statuses and row.reasons is None and issubclass(row.error, ProviderRetryableError)
               for row in ERRORS)


def lost_race(provider: str) -> ProviderConflictError:
    """Conditional writes kept losing to concurrent changes (re-read, re-applied, refused again): the
    ledger retries later."""
    return ProviderConflictError(provider, "etag_race", 412)


@contextmanager
def transport_errors(provider: str) -> Iterator[None]:
    """Timeouts and connection failures become :class:`ProviderUnavailableError`."""
    try:
        yield
    except httpx.TimeoutException:
        raise ProviderUnavailableError(provider, "timeout") from None
    except httpx.TransportError as error:
        raise ProviderUnavailableError(provider, f"transport_{type(error).__name__}") from None


REDIRECTS = frozenset({301, 302, 303, 307, 308})


def redirect_location(provider: str, response: httpx.Response, url: str) -> str | None:
    """Where a redirect answer sends us, or None when the answer is not a redirect.

    Requests that carry credentials follow a redirect only within the same origin (scheme, host and
    port): a redirect to another host, or from https to http, is refused (``redirect_to_other_host``) so
    the credentials never go with it. The person can enter the other server's address themselves.
    """
    if response.status_code not in REDIRECTS or "Location" not in response.headers:
        return None
    target = httpx.URL(url).join(response.headers["Location"])
    origin = httpx.URL(url)
    if (target.scheme, target.host, target.port) != (origin.scheme, origin.host, origin.port):
        raise ProviderRejectedError(provider, "redirect_to_other_host", response.status_code)
    return str(target)


# -- OAuth token endpoints (RFC 6749 §5.2) ---------------------------------------------------------------

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
