"""How big a feed body is as one Lambda response carries it (``feed.cache``): the choice between sending it
inline and redirecting to its stored copy must never underestimate (a response over 6 MB is a 500)."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from calsync.feed import cache


@given(st.text())
def test_the_text_size_never_underestimates_the_json_string_lambda_sends(text: str) -> None:
    body = text.encode("utf-8", "surrogatepass")
    assert cache.text_wire_size(body) >= len(json.dumps(body.decode("utf-8", "surrogatepass"))) - 2  # quotes


@given(st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126)).map(lambda t: t.replace("\n", "\r\n")))
def test_for_plain_ascii_text_it_is_exact(text: str) -> None:
    body = (text + "\r\n").encode("ascii")
    assert cache.text_wire_size(body) == len(json.dumps(body.decode("ascii"))) - 2  # without the quotes


def test_gzip_goes_out_base64_encoded() -> None:
    assert [cache.gzip_wire_size(n) for n in (0, 1, 3, 4, 3_000_000)] == [0, 4, 4, 8, 4_000_000]
