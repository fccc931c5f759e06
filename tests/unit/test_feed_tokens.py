"""Feed URL tokens: 256 random bits, URL-safe, stored as a hash, checked before any read."""

from __future__ import annotations

import base64
import hashlib

import pytest

from calsync.feed import tokens


def test_a_token_carries_256_random_bits_in_url_safe_characters():
    issued = {tokens.new_token() for _ in range(200)}
    assert len(issued) == 200
    for token in issued:
        assert len(base64.urlsafe_b64decode(token + "=")) == 32
        assert tokens.token_from_file_name(f"{token}.ics") == token


def test_only_the_hash_is_kept_and_it_is_sha256():
    token = tokens.new_token()
    assert tokens.token_hash(token) == hashlib.sha256(token.encode()).hexdigest()
    assert token not in tokens.token_hash(token)


def test_token_ids_are_short_public_handles_unrelated_to_the_token():
    token_id = tokens.new_token_id()
    assert token_id.startswith("tok_") and len(token_id) == 16
    assert tokens.new_token_id() != token_id


@pytest.mark.parametrize("file_name", [
    "",
    ".ics",
    "abc.ics",
    "A" * 43,  # no suffix
    "A" * 42 + ".ics",
    "A" * 44 + ".ics",
    "A" * 42 + "=.ics",
    "A" * 42 + "/.ics",
    "A" * 43 + ".ICS",
    "A" * 43 + ".ics.ics",
    "../" + "A" * 40 + ".ics",
])
def test_file_names_that_cannot_hold_a_token_are_refused_before_any_lookup(file_name):
    assert tokens.token_from_file_name(file_name) is None


def test_feed_url_has_the_token_as_the_last_segment():
    token = tokens.new_token()
    assert tokens.feed_url("https://api.example.com/", token) == f"https://api.example.com/feeds/{token}.ics"
