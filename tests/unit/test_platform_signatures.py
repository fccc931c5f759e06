"""Every signing platform's scheme against vectors computed independently (tests/support/platform_signing.py):
a valid request passes, a wrong secret, a tampered body or a missing header fails, and a request signed
too long ago is stale. Replays need the de-duplication store: tests/integration/test_platform_webhooks.py.
The secret-URL platforms' token check is here too."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from calsync.platforms import registry
from calsync.platforms.base import (
    Notice,
    Reason,
    Rejected,
    Scheme,
    WebhookRequest,
    fresh,
    path_secret_hash,
    path_secret_ok,
)
from tests.support.platform_requests import SECRET, signed, source
from tests.support.platform_samples import load, names
from tests.support.platform_signing import SIGNED, TIMESTAMPED

CREDENTIALS = {"signing_secret": SECRET}
FIRST = {platform: names(platform)[0] for platform in SIGNED}


def verify_and_read(platform_name: str, request: WebhookRequest) -> list[Notice]:
    platform = registry.get(platform_name)
    assert platform is not None
    platform.verify(request, CREDENTIALS, source(platform_name))
    return platform.notices(request, source(platform_name))


def test_the_signing_platforms_are_the_ones_with_a_signature_scheme():
    assert {p.name for p in registry.all_platforms() if p.scheme is Scheme.SIGNATURE} == set(SIGNED)


@pytest.mark.parametrize("platform", SIGNED)
def test_valid_signature_is_accepted_and_fresh(platform):
    now = dt.datetime.now(dt.UTC)
    notices = verify_and_read(platform, signed(load(platform, FIRST[platform]), at=now))
    assert notices
    max_age = registry.get(platform).max_age  # type: ignore[union-attr]
    assert all(fresh(notice.sent_at, max_age, now) for notice in notices)


@pytest.mark.parametrize("platform", SIGNED)
def test_wrong_secret_is_refused(platform):
    with pytest.raises(Rejected) as refused:
        verify_and_read(platform, signed(load(platform, FIRST[platform]), secret="not-the-tenants-secret"))
    assert refused.value.reason is Reason.SIGNATURE


@pytest.mark.parametrize("platform", SIGNED)
def test_tampered_body_is_refused(platform):
    request = signed(load(platform, FIRST[platform]))
    tampered = request.body.replace(b"1", b"2", 1)
    assert tampered != request.body
    with pytest.raises(Rejected) as refused:
        verify_and_read(platform, dataclasses.replace(request, body=tampered))
    assert refused.value.reason is Reason.SIGNATURE


@pytest.mark.parametrize("platform", SIGNED)
def test_missing_signature_is_refused(platform):
    request = signed(load(platform, FIRST[platform]))
    bare = dataclasses.replace(request, headers={"content-type": request.headers["content-type"]})
    with pytest.raises(Rejected) as refused:
        verify_and_read(platform, bare)
    assert refused.value.reason is Reason.SIGNATURE


@pytest.mark.parametrize("platform", sorted(TIMESTAMPED))
def test_request_signed_too_long_ago_is_stale(platform):
    now = dt.datetime.now(dt.UTC)
    tolerance = TIMESTAMPED[platform]
    assert registry.get(platform).max_age == tolerance  # type: ignore[union-attr]
    long_ago = now - tolerance - dt.timedelta(minutes=1)
    old = verify_and_read(platform, signed(load(platform, FIRST[platform]), at=long_ago))
    assert not all(fresh(n.sent_at, tolerance, now) for n in old)
    recent = verify_and_read(platform, signed(load(platform, FIRST[platform]), at=now - tolerance / 2))
    assert all(fresh(n.sent_at, tolerance, now) for n in recent)


@pytest.mark.parametrize("platform", sorted(set(SIGNED) - set(TIMESTAMPED)))
def test_platforms_that_sign_no_time_have_no_staleness_window(platform):
    """Acuity signs the body only: replays are caught by de-duplication on the published state."""
    assert registry.get(platform).max_age is None  # type: ignore[union-attr]


def test_calendly_timestamp_is_bound_to_the_signature():
    request = signed(load("calendly", "invitee-created"))
    header = request.headers["calendly-webhook-signature"]
    t, v1 = (part.split("=", 1)[1] for part in header.split(","))
    moved = dataclasses.replace(request, headers={**request.headers,
                                                  "calendly-webhook-signature": f"t={int(t) + 1},v1={v1}"})
    with pytest.raises(Rejected):
        verify_and_read("calendly", moved)


def test_hubspot_signature_covers_the_url():
    request = signed(load("hubspot", "meeting-created"))
    with pytest.raises(Rejected):
        verify_and_read("hubspot", dataclasses.replace(request, url=request.url + "-other"))


def test_square_signs_the_registered_url_when_the_source_names_one():
    sample = load("square", "booking-created")
    request = signed(sample)
    platform = registry.get("square")
    assert platform is not None
    with pytest.raises(Rejected):
        platform.verify(request, CREDENTIALS, dataclasses.replace(source("square"),
                                                                   public_url="https://hooks.clinic.example/square"))
    platform.verify(dataclasses.replace(request, url="https://internal.example/other"), CREDENTIALS,
                    dataclasses.replace(source("square"), public_url=request.url))


def test_a_platform_without_a_configured_secret_refuses():
    platform = registry.get("calcom")
    assert platform is not None
    with pytest.raises(Rejected) as refused:
        platform.verify(signed(load("calcom", "booking-created")), {}, source("calcom"))
    assert refused.value.reason is Reason.UNKNOWN_SOURCE


# -- secret URLs -------------------------------------------------------------------------------------------


def test_secret_url_tokens_are_checked_against_their_hashes_only():
    live, previous = "tok-live-" + "a" * 34, "tok-previous-" + "b" * 30
    configured = dataclasses.replace(source("timetap"), path_secret_hashes=(path_secret_hash(previous),
                                                                            path_secret_hash(live)))
    assert path_secret_ok(configured, live)
    assert path_secret_ok(configured, previous)  # a rotation keeps the old one until it is retired
    assert not path_secret_ok(configured, live[:-1])
    assert not path_secret_ok(configured, "")
    assert not path_secret_ok(dataclasses.replace(configured, path_secret_hashes=()), live)
    assert live not in repr(configured) and previous not in repr(configured)
