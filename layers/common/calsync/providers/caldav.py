"""CalDAV (iCloud, Fastmail, Nextcloud, Radicale, ...) over httpx.

Not the ``caldav`` package: it replaces urllib3 process-wide. Credentials (username and an app-specific
password) are handed in by whoever builds the provider (``calsync.services.writers`` reads them from the
integration's secret) and go with each request, over the one pooled client every CalDAV integration of the
process shares (``http.guarded.shared_guarded_client``, whose every connection reaches a public address
only): twenty calendars on one server written side by side reuse its connections instead of opening twenty.
What each status means is decided in ``calsync.http.outcomes``.
Each appointment is one resource named ``<digest>.ics`` in the integration's calendar collection:

* create:  PUT with ``If-None-Match: *``; a 412 means it exists already (a lost response, a replay):
  re-read it and overwrite with ``If-Match``;
* update:  PUT with ``If-Match: <etag>``; on 412 re-read and retry once with the fresh etag; on 404
  (removed by the clinician) create it again;
* delete:  DELETE with ``If-Match`` when the etag is known; 404 counts as done; 412 re-reads and retries.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import httpx

from calsync.core.errors import ConfigurationError, ProviderRejectedError
from calsync.core.settings import get_settings
from calsync.domain.event import CalendarEvent, EventKey, Written
from calsync.domain.model import Integration
from calsync.formats import ical
from calsync.http.guarded import shared_guarded_client
from calsync.http.origins import may_carry_credentials
from calsync.http.outcomes import Answer, answer, lost_race, transport_errors

NAME = "caldav"
ICAL_TYPE = "text/calendar; charset=utf-8"
ATTEMPTS = 3

Credentials = Callable[[], tuple[str, str]]
"""Username and (app-specific) password, read when the first request needs them."""


class CalDavSession:
    """Requests with a clinician's CalDAV credentials (shared by the writer and the reader): only to a URL
    allowed to carry them (https), and never a redirect followed (the client follows none; a 3xx is a
    refusal, see http.outcomes). They go over the one pooled client every CalDAV integration of the process
    shares, the credentials with each request (read once, when the first request needs them); a client
    handed in (tests, the connect page's checks) brings its own."""

    def __init__(self, credentials: Credentials | None, client: httpx.Client | None = None, *,
                 local_development: bool | None = None) -> None:
        self._credentials = credentials
        self._client = client
        self._auth: httpx.Auth | None = None
        self._local_development = get_settings().local_development if local_development is None else local_development

    def _http(self) -> tuple[httpx.Client, httpx.Auth | None]:
        if self._client is not None:
            return self._client, None
        if self._auth is None:
            assert self._credentials is not None
            username, password = self._credentials()
            self._auth = httpx.BasicAuth(username, password)
        # the server was typed in by a person: public addresses only (every connection checked as it is made)
        return shared_guarded_client(get_settings().provider_timeout_seconds,
                                     allow_loopback=self._local_development), self._auth

    def send(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        if not may_carry_credentials(url, local_development=self._local_development):
            raise ProviderRejectedError(NAME, "insecure_url")
        client, auth = self._http()
        with transport_errors(NAME):
            if auth is None:
                return client.request(method, url, **kwargs)
            return client.request(method, url, auth=auth, **kwargs)

    def close(self) -> None:
        """Closes a client handed in; the shared one stays open for the next integration."""
        if self._client is not None:
            self._client.close()


class CalDavProvider:
    name = NAME

    def __init__(self, integration: Integration, credentials: Credentials | None = None,
                 client: httpx.Client | None = None, *, local_development: bool | None = None) -> None:
        if not integration.calendar_id.startswith(("https://", "http://")):
            raise ConfigurationError("caldav calendar_id must be the collection URL")
        if client is None and credentials is None:
            raise ConfigurationError("caldav provider needs credentials or a client")
        self._collection = integration.calendar_id.rstrip("/") + "/"
        self.session = CalDavSession(credentials, client, local_development=local_development)

    # -- HTTP -----------------------------------------------------------------------------------------

    def _send(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        return self.session.send(method, url, **kwargs)

    def _href(self, key: EventKey) -> str:
        return f"{self._collection}{key.digest}.ics"

    def _current_etag(self, href: str) -> str | None:
        """Re-reads the resource: its etag, or None when it does not exist."""
        response = self._send("GET", href)
        if answer(NAME, "get", response) is Answer.MISSING:
            return None
        etag: str | None = response.headers.get("ETag")
        return etag

    def _written(self, href: str, response: httpx.Response) -> Written:
        etag = response.headers.get("ETag")
        if etag is None:  # the server changed our data and gave no strong etag: ask for it
            etag = self._current_etag(href)
        return Written(external_id=href, etag=etag)

    # -- protocol -------------------------------------------------------------------------------------

    def upsert(self, key: EventKey, event: CalendarEvent, known: Written | None) -> Written:
        href = known.external_id if known else self._href(key)
        body = ical.calendar_object(key, event, dt.datetime.now(dt.UTC))
        etag = known.etag if known else None
        for _attempt in range(ATTEMPTS):
            operation, precondition = ("update", {"If-Match": etag}) if etag else ("create", {"If-None-Match": "*"})
            response = self._send("PUT", href, content=body, headers={"Content-Type": ICAL_TYPE, **precondition})
            if answer(NAME, operation, response) is Answer.DONE:
                return self._written(href, response)
            etag = self._current_etag(href)  # exists after all, changed, or removed: read it again
        raise lost_race(NAME)

    def delete(self, key: EventKey, known: Written | None) -> None:
        href = known.external_id if known else self._href(key)
        etag = known.etag if known else None
        for _attempt in range(ATTEMPTS):
            response = self._send("DELETE", href, headers={"If-Match": etag} if etag else {})
            match answer(NAME, "delete", response):
                case Answer.DONE | Answer.MISSING:
                    return
            etag = self._current_etag(href)
            if etag is None:
                return
        raise lost_race(NAME)

    def close(self) -> None:
        self.session.close()
