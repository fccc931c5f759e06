"""CalDAV discovery (RFC 6764, RFC 5397, RFC 4791): from a server address and credentials to the URL
of the calendar collection calsync writes into. Used when a clinician connects, not on the hot path.

``/.well-known/caldav`` → ``current-user-principal`` → ``calendar-home-set`` → the calendars in it;
the home may live on another host (iCloud answers with ``pNN-caldav.icloud.com``).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from urllib.parse import urljoin

import httpx

from calsync.core.errors import ProviderGoneError, ProviderRejectedError
from calsync.http.outcomes import raise_for_status, transport_errors

NAME = "caldav"
DAV, CALDAV = "DAV:", "urn:ietf:params:xml:ns:caldav"
NS = {"d": DAV, "c": CALDAV}


@dataclass(frozen=True)
class DiscoveredCalendar:
    url: str
    display_name: str | None


def _propfind(client: httpx.Client, url: str, body: str, depth: str) -> tuple[str, ET.Element]:
    """PROPFIND following up to three redirects; returns the final URL and the multistatus element."""
    for _hop in range(4):
        with transport_errors(NAME):
            response = client.request("PROPFIND", url, content=body.encode(),
                                      headers={"Depth": depth, "Content-Type": "application/xml; charset=utf-8"})
        if response.status_code in (301, 302, 307, 308) and "Location" in response.headers:
            url = urljoin(url, response.headers["Location"])
            continue
        raise_for_status(NAME, response)
        return url, ET.fromstring(response.content)  # noqa: S314 - see the import note
    raise ProviderRejectedError(NAME, "too_many_redirects")


def _href(root: ET.Element, prop: str) -> str | None:
    node = root.find(f".//{prop}/d:href", NS)
    return node.text.strip() if node is not None and node.text else None


def principal_url(client: httpx.Client, server_url: str) -> str:
    body = ('<?xml version="1.0"?><d:propfind xmlns:d="DAV:"><d:prop><d:current-user-principal/>'
            "</d:prop></d:propfind>")
    base = server_url.rstrip("/") + "/"
    try:
        url, root = _propfind(client, urljoin(base, ".well-known/caldav"), body, "0")
    except (ProviderGoneError, ProviderRejectedError):  # no well-known URL here: ask the root itself
        url, root = _propfind(client, base, body, "0")
    href = _href(root, "d:current-user-principal")
    if href is None:
        raise ProviderRejectedError(NAME, "no_current_user_principal")
    return urljoin(url, href)


def calendar_home(client: httpx.Client, principal: str) -> str:
    body = ('<?xml version="1.0"?><d:propfind xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav">'
            "<d:prop><c:calendar-home-set/></d:prop></d:propfind>")
    url, root = _propfind(client, principal, body, "0")
    href = _href(root, "c:calendar-home-set")
    if href is None:
        raise ProviderRejectedError(NAME, "no_calendar_home")
    return urljoin(url, href)


def list_calendars(client: httpx.Client, home: str) -> list[DiscoveredCalendar]:
    body = ('<?xml version="1.0"?><d:propfind xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav">'
            "<d:prop><d:resourcetype/><d:displayname/><c:supported-calendar-component-set/></d:prop>"
            "</d:propfind>")
    url, root = _propfind(client, home, body, "1")
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


def make_calendar(client: httpx.Client, home: str, display_name: str) -> str:
    slug = re.sub(r"[^a-z0-9-]+", "-", display_name.lower()).strip("-") or "calsync"
    url = urljoin(home.rstrip("/") + "/", slug + "/")
    body = ('<?xml version="1.0" encoding="utf-8"?><c:mkcalendar xmlns:d="DAV:" '
            'xmlns:c="urn:ietf:params:xml:ns:caldav"><d:set><d:prop>'
            f"<d:displayname>{_xml_text(display_name)}</d:displayname>"
            '<c:supported-calendar-component-set><c:comp name="VEVENT"/></c:supported-calendar-component-set>'
            "</d:prop></d:set></c:mkcalendar>")
    with transport_errors(NAME):
        response = client.request("MKCALENDAR", url, content=body.encode(),
                                  headers={"Content-Type": "application/xml; charset=utf-8"})
    raise_for_status(NAME, response)
    return url


def _xml_text(value: str) -> str:
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def find_or_create_calendar(client: httpx.Client, server_url: str, display_name: str) -> str:
    """The URL of the calendar called ``display_name``, made with MKCALENDAR if it does not exist."""
    home = calendar_home(client, principal_url(client, server_url))
    for calendar in list_calendars(client, home):
        if calendar.display_name == display_name:
            return calendar.url
    return make_calendar(client, home, display_name)
