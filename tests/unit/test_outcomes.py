"""HTTP outcome → error mapping, the single decision table for every provider."""

from __future__ import annotations

import datetime as dt
import email.utils

import httpx
import pytest

from calsync.core.errors import (
    ProviderAuthError,
    ProviderConflictError,
    ProviderGoneError,
    ProviderRateLimitedError,
    ProviderRejectedError,
    ProviderUnavailableError,
)
from calsync.http.outcomes import raise_for_status, retry_after_seconds, transport_errors


def google_error(status: int, reason: str) -> httpx.Response:
    body = {"error": {"errors": [{"domain": "usageLimits", "reason": reason, "message": "Patient Zed x"}],
                      "code": status, "message": "Patient Zed x"}}
    return httpx.Response(status, json=body)


def graph_error(status: int, code: str, retry_after: str | None = None) -> httpx.Response:
    headers = {"Retry-After": retry_after} if retry_after else {}
    return httpx.Response(status, json={"error": {"code": code, "message": "Patient Zed x"}}, headers=headers)


@pytest.mark.parametrize(
    ("response", "error", "reason"),
    [
        (graph_error(401, "InvalidAuthenticationToken"), ProviderAuthError, "InvalidAuthenticationToken"),
        (google_error(403, "rateLimitExceeded"), ProviderRateLimitedError, "rateLimitExceeded"),
        (google_error(403, "userRateLimitExceeded"), ProviderRateLimitedError, "userRateLimitExceeded"),
        (google_error(403, "forbiddenForNonOrganizer"), ProviderAuthError, "forbiddenForNonOrganizer"),
        (graph_error(404, "ErrorItemNotFound"), ProviderGoneError, "ErrorItemNotFound"),
        (google_error(410, "deleted"), ProviderGoneError, "deleted"),
        (google_error(412, "conditionNotMet"), ProviderConflictError, "conditionNotMet"),
        (graph_error(429, "TooManyRequests", "7"), ProviderRateLimitedError, "TooManyRequests"),
        (graph_error(503, "serviceNotAvailable"), ProviderUnavailableError, "serviceNotAvailable"),
        (httpx.Response(408), ProviderUnavailableError, "http_408"),
        (google_error(400, "timeRangeEmpty"), ProviderRejectedError, "timeRangeEmpty"),
        (httpx.Response(400, text="Patient Zed x is bad"), ProviderRejectedError, "http_400"),
    ],
)
def test_mapping(response: httpx.Response, error: type[Exception], reason: str) -> None:
    with pytest.raises(error) as caught:
        raise_for_status("p", response)
    assert caught.type is error
    assert getattr(caught.value, "reason", None) == reason
    assert "Zed" not in str(caught.value)  # the provider's human message is never kept


def test_success_does_not_raise() -> None:
    raise_for_status("p", httpx.Response(204))


def test_retry_after_is_carried() -> None:
    with pytest.raises(ProviderRateLimitedError) as caught:
        raise_for_status("p", graph_error(429, "TooManyRequests", "7"))
    assert caught.value.retry_after == 7.0


def test_retry_after_http_date_and_cap() -> None:
    now = dt.datetime(2026, 11, 21, 12, tzinfo=dt.UTC)
    later = email.utils.format_datetime(now + dt.timedelta(seconds=90), usegmt=True)
    assert retry_after_seconds(httpx.Response(503, headers={"Retry-After": later}), now) == 90.0
    assert retry_after_seconds(httpx.Response(503, headers={"Retry-After": "99999"})) == 3600.0
    assert retry_after_seconds(httpx.Response(503, headers={"Retry-After": "soon"})) is None
    assert retry_after_seconds(httpx.Response(503)) is None


@pytest.mark.parametrize(("raised", "reason"), [(httpx.ReadTimeout("t"), "timeout"),
                                                (httpx.ConnectError("c"), "transport_ConnectError")])
def test_transport_failures_are_retryable(raised: Exception, reason: str) -> None:
    with pytest.raises(ProviderUnavailableError, match=reason), transport_errors("p"):
        raise raised
