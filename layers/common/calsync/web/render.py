"""Renders the connect page's templates. Autoescaping is on for every template and undefined names fail
loudly, so a value can reach the page only escaped, and a typo cannot render as nothing.

Every response carries the same security headers (:func:`headers`): a strict Content Security Policy
(this site's stylesheet and script only; forms post only here, and their answers redirect only here or to
the providers' consent pages), no framing, no referrer (a connect link or an authorization code must not
leak through one), no caching (a page can name the clinician's calendar).
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from typing import Any

from calsync.web.page import Asset, Page

CSP = ("default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; connect-src 'self'; "
       "form-action 'self'{consent}; frame-ancestors 'none'; base-uri 'none'")
HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "Cross-Origin-Opener-Policy": "same-origin",
}
ASSETS = {"connect.css": "text/css; charset=utf-8", "connect.js": "text/javascript; charset=utf-8"}


@lru_cache(maxsize=1)
def environment() -> Any:
    import jinja2

    return jinja2.Environment(
        loader=jinja2.PackageLoader("calsync.web", "templates"),
        autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)


def headers(consent_origins: tuple[str, ...] = ()) -> dict[str, str]:
    """The security headers. ``consent_origins``: where a form's answer may redirect (the providers' consent
    pages; browsers hold redirects after a form post to ``form-action`` too)."""
    consent = "".join(f" {origin}" for origin in consent_origins)
    return {"Content-Security-Policy": CSP.format(consent=consent), **HEADERS}


def html(page: Page) -> str:
    return str(environment().get_template(page.template).render(**page.context))


def asset(name: str) -> Asset | None:
    """A static file of the page (stylesheet, script), or None for any other name."""
    if name not in ASSETS:
        return None
    return Asset(resources.files("calsync.web").joinpath("static", name).read_text(encoding="utf-8"), ASSETS[name])
