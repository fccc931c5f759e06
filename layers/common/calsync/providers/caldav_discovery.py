"""CalDAV discovery (RFC 6764, RFC 5397, RFC 4791): from a server address and credentials to the URL
of the calendar collection calsync writes into. Used when a clinician connects, not on the hot path.

``/.well-known/caldav`` → ``current-user-principal`` → ``calendar-home-set`` → the calendars in it;
the home may live on another host (iCloud answers with ``pNN-caldav.icloud.com``). Every request carries
the clinician's credentials, so every URL must pass ``calsync.http.origins.may_carry_credentials`` (https
outside local development), and a redirect is followed only within its origin: one to another host, or
from https to http, is refused before anything is sent there.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin

import httpx

from calsync.core.errors import ProviderGoneError, ProviderRejectedError
from calsync.http.origins import may_carry_credentials, same_origin
from calsync.http.outcomes import raise_for_status, transport_errors

NAME = "caldav"
DAV, CALDAV = "DAV:", "urn:ietf:params:xml:ns:caldav"
NS = {"d": DAV, "c": CALDAV}


@dataclass(frozen=True)
class DiscoveredCalendar:
    url: str
    display_name: str | None


REDIRECTS = frozenset({301, 302, 303, 307, 308})


def _send(client: httpx.Client, method: str, url: str, *, local_development: bool, **kwargs: Any) -> httpx.Response:
    """One request with the clinician's credentials, to a URL allowed to receive them."""
    if not may_carry_credentials(url, local_development=local_development):
        raise ProviderRejectedError(NAME, "insecure_url")
    with transport_errors(NAME):
        return client.request(method, url, **kwargs)


def _propfind(client: httpx.Client, url: str, body: str, depth: str, *,
              local_development: bool) -> tuple[str, ET.Element]:
    """PROPFIND following up to three redirects within the URL's origin; returns the final URL and the
    multistatus element."""
    for _hop in range(4):
        response = _send(client, "PROPFIND", url, local_development=local_development, content=body.encode(),
                         headers={"Depth": depth, "Content-Type": "application/xml; charset=utf-8"})
        if response.status_code in REDIRECTS and "Location" in response.headers:
            target = urljoin(url, response.headers["Location"])
            if not same_origin(url, target):
                raise ProviderRejectedError(NAME, "redirect_to_other_origin", response.status_code)
            url = target
            continue
        raise_for_status(NAME, response)
        return url, ET.fromstring(response.content)  # noqa: S314 - see the import note
    raise ProviderRejectedError(NAME, "too_many_redirects")


def _href(root: ET.Element, prop: str) -> str | None:
    node = root.find(f".//{prop}/d:href", NS)
    return node.text.strip() if node is not None and node.text else None


def principal_url(client: httpx.Client, server_url: str, *, local_development: bool = False) -> str:
    body = ('<?xml version="1.0"?><d:propfind xmlns:d="DAV:"><d:prop><d:current-user-principal/>'
            "</d:prop></d:propfind>")
    base = server_url.rstrip("/") + "/"
    try:
        url, root = _propfind(client, urljoin(base, ".well-known/caldav"), body, "0",
                              local_development=local_development)
    except ProviderGoneError:  # no well-known URL here: ask the root itself
        url, root = _propfind(client, base, body, "0", local_development=local_development)
    except ProviderRejectedError as refused:
        if refused.reason in ("insecure_url", "redirect_to_other_origin"):
            raise
        url, root = _propfind(client, base, body, "0", local_development=local_development)
    href = _href(root, "d:current-user-principal")
    if href is None:
        raise ProviderRejectedError(NAME, "no_current_user_principal")
    return urljoin(url, href)


def calendar_home(client: httpx.Client, principal: str, *, local_development: bool = False) -> str:
    body = ('<?xml version="1.0"?><d:propfind xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav">'
            "<d:prop><c:calendar-home-set/></d:prop></d:propfind>")
    url, root = _propfind(client, principal, body, "0", local_development=local_development)
    href = _href(root, "c:calendar-home-set")
    if href is None:
        raise ProviderRejectedError(NAME, "no_calendar_home")
    return urljoin(url, href)


def list_calendars(client: httpx.Client, home: str, *, local_development: bool = False) -> list[DiscoveredCalendar]:
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
        found.append(DiscoveredCalendar(urljoin(url, href.strip()), name))
    return found


def make_calendar(client: httpx.Client, home: str, display_name: str, *, local_development: bool = False) -> str:
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
                            local_development: bool = False) -> str:
    """The URL of the calendar called ``display_name``, made with MKCALENDAR if it does not exist."""
    home = calendar_home(client, principal_url(client, server_url, local_development=local_development),
                         local_development=local_development)
    for calendar in list_calendars(client, home, local_development=local_development):
        if calendar.display_name == display_name:
            return calendar.url
    return make_calendar(client, home, display_name, local_development=local_development)
