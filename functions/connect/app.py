"""connect: the hosted connect page (``GET``/``POST /connect/...`` on the HTTP API, payload format 2.0).

Routing is Powertools' event handler; every step is ``calsync.services.connect.pages``, imported by the init
that a SnapStart snapshot captures (template.yaml), or else on the first request, so an on-demand cold start
pays only for the router. This module translates requests (query, form, cookie) in and pages, redirects
and assets out, with the security headers of ``calsync.web.render``.
"""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response

from calsync.core import snapshot
from calsync.core.observability import logger

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

    from calsync.web.page import Page, Redirect

app = APIGatewayHttpResolver()


def _pages() -> Any:
    from calsync.services.connect import pages

    return pages


if snapshot.capturing():  # SnapStart's init runs once per version: every request's imports cost nothing there
    _pages()


def _form() -> dict[str, list[str]]:
    event = app.current_event
    body = event.body or ""
    if event.is_base64_encoded:
        body = base64.b64decode(body).decode("utf-8", "replace")
    return parse_qs(body, keep_blank_values=True, max_num_fields=200)


def _cookie() -> str | None:
    from calsync.services.connect import session

    name = session.cookie_name()
    for cookie in app.current_event.cookies or []:
        key, _, value = cookie.strip().partition("=")
        if key == name:
            return value
    return None


def _query(name: str) -> str:
    return app.current_event.get_query_string_value(name, "") or ""


def respond(answer: Page | Redirect) -> Response[str]:
    from calsync.web import render
    from calsync.web.page import Redirect

    headers = render.headers(_pages().consent_origins())
    if isinstance(answer, Redirect):
        headers["Location"] = answer.location
        if answer.cookie:
            headers["Set-Cookie"] = answer.cookie
        return Response(answer.status, "text/plain; charset=utf-8", "", headers)
    if answer.cookie:
        headers["Set-Cookie"] = answer.cookie
    return Response(answer.status, "text/html; charset=utf-8", render.html(answer), headers)


@app.get("/connect/open")
def open_link() -> Response[str]:
    return respond(_pages().open_link(_query("link")))


@app.post("/connect/start")
def start() -> Response[str]:
    return respond(_pages().start(_form()))


@app.get("/connect/choose")
def choose() -> Response[str]:
    return respond(_pages().choose(_cookie()))


@app.get("/connect/settings")
def settings() -> Response[str]:
    return respond(_pages().settings_form(_cookie(), _query("provider")))


@app.post("/connect/settings")
def submit_settings() -> Response[str]:
    return respond(_pages().submit_settings(_cookie(), _form()))


@app.post("/connect/preview")
def preview() -> Response[str]:
    return respond(_pages().preview(_cookie(), _form()))


@app.get("/connect/oauth/google/callback")
def google_callback() -> Response[str]:
    query = {name: _query(name) for name in ("state", "code", "error", "scope") if _query(name)}
    return respond(_pages().google_callback(_cookie(), query))


@app.post("/connect/oauth/microsoft/callback")
def microsoft_callback() -> Response[str]:
    return respond(_pages().microsoft_relay(_form()))


@app.post("/connect/oauth/microsoft/finish")
def microsoft_finish() -> Response[str]:
    return respond(_pages().microsoft_finish(_cookie(), _form()))


@app.get("/connect/calendars")
def calendars() -> Response[str]:
    return respond(_pages().calendars_page(_cookie()))


@app.post("/connect/calendars")
def submit_calendars() -> Response[str]:
    return respond(_pages().submit_calendars(_cookie(), _form()))


@app.get("/connect/status")
def status() -> Response[str]:
    return respond(_pages().status_page(_cookie(), fragment=_query("fragment") == "1"))


@app.get("/connect/static/<name>")
def static(name: str) -> Response[str]:
    from calsync.web import render

    asset = render.asset(name)
    if asset is None:
        return respond(_pages().problem("not_found"))
    headers = {**render.headers(), "Cache-Control": "public, max-age=300"}
    return Response(200, asset.content_type, asset.body, headers)


@app.not_found
def not_found(_error: Exception) -> Response[str]:
    return respond(_pages().problem("not_found"))


@app.exception_handler(Exception)
def failed(error: Exception) -> Response[str]:
    logger.error("connect page failed", extra={"error": type(error).__name__})  # the type only: never content
    return respond(_pages().problem("failed"))


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
