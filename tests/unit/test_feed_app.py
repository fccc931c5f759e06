"""The feed handler's translation between API Gateway (HTTP API, payload 2.0) and ``calsync.feed.serve``."""

from __future__ import annotations

import base64
import gzip
from typing import Any

from calsync.feed.serve import FeedResponse
from functions.feed.app import to_request, to_result


def http_event(method: str = "GET", file: str = "abc.ics", headers: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "version": "2.0",
        "routeKey": f"{method} /feeds/{{file}}",
        "rawPath": f"/feeds/{file}",
        "headers": headers or {},
        "pathParameters": {"file": file},
        "requestContext": {"http": {"method": method, "path": f"/feeds/{file}"}},
        "isBase64Encoded": False,
    }


def test_the_request_keeps_method_file_name_and_lower_cased_headers():
    request = to_request(http_event("HEAD", "tok.ics", {"If-None-Match": 'W/"x"', "accept-encoding": "gzip"}))
    assert (request.method, request.file_name) == ("HEAD", "tok.ics")
    assert request.headers == {"if-none-match": 'W/"x"', "accept-encoding": "gzip"}


def test_an_event_without_path_parameters_or_headers_is_a_request_for_nothing():
    request = to_request({"requestContext": {"http": {"method": "GET"}}})
    assert (request.file_name, dict(request.headers)) == ("", {})


def test_gzip_bodies_go_out_base64_encoded():
    body = gzip.compress(b"BEGIN:VCALENDAR\r\n")
    result = to_result(FeedResponse(200, {"Content-Encoding": "gzip"}, body, binary=True), "GET")
    assert result["isBase64Encoded"] is True
    assert base64.b64decode(result["body"]) == body


def test_text_bodies_go_out_as_text_and_head_answers_carry_no_body():
    response = FeedResponse(200, {"ETag": 'W/"1"'}, b"BEGIN:VCALENDAR\r\n")
    assert to_result(response, "GET")["body"] == "BEGIN:VCALENDAR\r\n"
    head = to_result(response, "HEAD")
    assert (head["statusCode"], head["body"], head["headers"]) == (200, "", {"ETag": 'W/"1"'})
