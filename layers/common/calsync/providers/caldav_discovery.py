"""CalDAV discovery (RFC 6764, RFC 5397, RFC 4791): from a server address and credentials to the URL
of the calendar collection calsync writes into. Used when a clinician connects, not on the hot path.

``/.well-known/caldav`` → ``current-user-principal`` → ``calendar-home-set`` → the calendars in it;
the home may live on another host of the same site (iCloud answers ``caldav.icloud.com`` with
``pNN-caldav.icloud.com``). Every request carries the clinician's credentials, so where they may go is
narrow: every URL must pass ``calsync.http.origins.may_carry_credentials`` (https outside local
development); a redirect is followed only within its origin (one to another host, or from https to http,
is refused before anything is sent there: ``calsync.http.outcomes.redirect_location``); and an address the
server names in its answers must be on the server's own site (:func:`same_site`). Which addresses a
connection may reach at all is the client's business (``calsync.http.guarded``).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin

import httpx

from calsync.core.errors import ProviderGoneError, ProviderRejectedError
from calsync.core.settings import get_settings
from calsync.http.origins import may_carry_credentials
from calsync.http.outcomes import raise_for_status, redirect_location, transport_errors

NAME = "caldav"
DAV, CALDAV = "DAV:", "urn:ietf:params:xml:ns:caldav"
NS = {"d": DAV, "c": CALDAV}


@dataclass(frozen=True)
class DiscoveredCalendar:
    url: str
    display_name: str | None


def same_site(origin: str, candidate: str) -> bool:
    """Whether a URL a server answered with may receive the credentials given for ``origin``: the same
    scheme (or an upgrade to https), and the same host or a host under the origin's parent domain
    (``caldav.icloud.com`` → ``p42-caldav.icloud.com``; a two-label host is its own parent)."""
    first, second = httpx.URL(origin), httpx.URL(candidate)
    if second.scheme != first.scheme and second.scheme != "https":
        return False
    if second.host == first.host:
        return True
    labels = first.host.split(".")
    parent = ".".join(labels[1:]) if len(labels) > 2 else first.host
    return second.host.endswith("." + parent)


def _follow(origin: str, base: str, href: str) -> str:
    url = urljoin(base, href)
    if not same_site(origin, url):
        raise ProviderRejectedError(NAME, "href_to_other_site")
    return url


def _local(local_development: bool | None) -> bool:
    return get_settings().local_development if local_development is None else local_development


def _send(client: httpx.Client, method: str, url: str, *, local_development: bool | None,
          **kwargs: Any) -> httpx.Response:
    """One request with the clinician's credentials, to a URL allowed to receive them."""
    if not may_carry_credentials(url, local_development=_local(local_development)):
        raise ProviderRejectedError(NAME, "insecure_url")
    with transport_errors(NAME):
        return client.request(method, url, **kwargs)


def _propfind(client: httpx.Client, url: str, body: str, depth: str, *,
              local_development: bool | None) -> tuple[str, ET.Element]:
    """PROPFIND following up to three redirects within the URL's origin; returns the final URL and the
    multistatus element."""
    for _hop in range(4):
        response = _send(client, "PROPFIND", url, local_development=local_development, content=body.encode(),
                         headers={"Depth": depth, "Content-Type": "application/xml; charset=utf-8"})
        location = redirect_location(NAME, response, url)
        if location is not None:
            url = location
            continue
        raise_for_status(NAME, response)
        return url, ET.fromstring(response.content)  # noqa: S314 - see the import note
    raise ProviderRejectedError(NAME, "too_many_redirects")


def _href(root: ET.Element, prop: str) -> str | None:
    node = root.find(f".//{prop}/d:href", NS)
    return node.text.strip() if node is not None and node.text else None


def principal_url(client: httpx.Client, server_url: str, *, local_development: bool | None = None) -> str:
    body = ('<?xml version="1.0"?><d:propfind xmlns:d="DAV:"><d:prop><d:current-user-principal/>'
            "</d:prop></d:propfind>")
    base = server_url.rstrip("/") + "/"
    try:
        url, root = _propfind(client, urljoin(base, ".well-known/caldav"), body, "0",
                              local_development=local_development)
    except ProviderGoneError:  # no well-known URL here: ask the root itself
        url, root = _propfind(client, base, body, "0", local_development=local_development)
    except ProviderRejectedError as refused:
        if refused.reason in ("insecure_url", "redirect_to_other_host"):
            raise
        url, root = _propfind(client, base, body, "0", local_development=local_development)
    href = _href(root, "d:current-user-principal")
    if href is None:
        raise ProviderRejectedError(NAME, "no_current_user_principal")
    return _follow(server_url, url, href)


def calendar_home(client: httpx.Client, principal: str, *, local_development: bool | None = None) -> str:
    body = ('<?xml version="1.0"?><d:propfind xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav">'
            "<d:prop><c:calendar-home-set/></d:prop></d:propfind>")
    url, root = _propfind(client, principal, body, "0", local_development=local_development)
    href = _href(root, "c:calendar-home-set")
    if href is None:
        raise ProviderRejectedError(NAME, "no_calendar_home")
    return _follow(principal, url, href)


def list_calendars(client: httpx.Client, home: str, *,
                   local_development: bool | None = None) -> list[DiscoveredCalendar]:
    body = ('<?xml version="1.0"?><d:propfind xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav">'
            "<d:prop><d:resourcetype/><d:displayname/><c:supported-calendar-component-set/></d:prop>"
            "</d:propfind>")
    url, root = _propfind(client, home, body, "1", local_development=local_development)
    found = []
    for response in root.findall("d:response", NS):
        href = response.findtext("d:href", namespaces=NS)
        if not href or response.find(".//d:resourcetype/c:calendar", NS) is None:
            continue
        components = {c.get("name") for c in response.findall(".//c:supported-calendar-component-set/c:comp", NS)}
        if components and "VEVENT" not in components:
            continue
        name = response.findtext(".//d:displayname", namespaces=NS)
        target = urljoin(url, href.strip())
        if same_site(home, target):
            found.append(DiscoveredCalendar(target, name))
    return found


def make_calendar(client: httpx.Client, home: str, display_name: str, *,
                  local_development: bool | None = None) -> str:
    slug = re.sub(r"[^a-z0-9-]+", "-", display_name.lower()).strip("-") or "calsync"
    url = urljoin(home.rstrip("/") + "/", slug + "/")
    body = ('<?xml version="1.0" encoding="utf-8"?><c:mkcalendar xmlns:d="DAV:" '
            'xmlns:c="urn:ietf:params:xml:ns:caldav"><d:set><d:prop>'
            f"<d:displayname>{_xml_text(display_name)}</d:displayname>"
            '<c:supported-calendar-component-set><c:comp name="VEVENT"/></c:supported-calendar-component-set>'
            "</d:prop></d:set></c:mkcalendar>")
    response = _send(client, "MKCALENDAR", url, local_development=local_development, content=body.encode(),
                     headers={"Content-Type": "application/xml; charset=utf-8"})
    raise_for_status(NAME, response)
    return url


def _xml_text(value: str) -> str:
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def find_or_create_calendar(client: httpx.Client, server_url: str, display_name: str, *,
                            local_development: bool | None = None) -> str:
    """The URL of the calendar called ``display_name``, made with MKCALENDAR if it does not exist."""
    home = calendar_home(client, principal_url(client, server_url, local_development=local_development),
                         local_development=local_development)
    for calendar in list_calendars(client, home, local_development=local_development):
        if calendar.display_name == display_name:
            return calendar.url
    return make_calendar(client, home, display_name, local_development=local_development)
