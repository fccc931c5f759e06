"""CalDAV (iCloud, Fastmail, Nextcloud, Radicale, ...) over httpx.

Not the ``caldav`` package: it replaces urllib3 process-wide. Credentials (username and an
app-specific password) come from the integration's secret. Each appointment is one resource named
``<digest>.ics`` in the integration's calendar collection:

* create:  PUT with ``If-None-Match: *``; a 412 means it exists already (a lost response, a replay):
  re-read it and overwrite with ``If-Match``;
* update:  PUT with ``If-Match: <etag>``; on 412 re-read and retry once with the fresh etag; on 404
  (removed by the clinician) create it again;
* delete:  DELETE with ``If-Match`` when the etag is known; 404 counts as done; 412 re-reads and retries.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx

from calsync.domain import CalendarEvent, Integration
from calsync.errors import ConfigurationError, ProviderConflictError, ProviderGoneError
from calsync.providers import ical
from calsync.providers.base import EventKey, Written
from calsync.providers.http import new_client
from calsync.providers.outcomes import raise_for_status, transport_errors
from calsync.secrets import read as read_secret
from calsync.settings import get_settings

NAME = "caldav"
ICAL_TYPE = "text/calendar; charset=utf-8"


def _no_reason(_response: httpx.Response) -> str | None:
    return None  # CalDAV error bodies are free text: the status code alone is recorded


class CalDavProvider:
    name = NAME

    def __init__(self, integration: Integration, client: httpx.Client | None = None) -> None:
        if not integration.calendar_id.startswith(("https://", "http://")):
            raise ConfigurationError("caldav calendar_id must be the collection URL")
        self._collection = integration.calendar_id.rstrip("/") + "/"
        self._secret_ref = integration.secret_ref
        self._client = client

    # -- HTTP -----------------------------------------------------------------------------------------

    def _http(self) -> httpx.Client:
        if self._client is None:
            settings = get_settings()
            if not self._secret_ref:
                raise ConfigurationError("caldav integration has no secret reference")
            secret = read_secret(self._secret_ref, settings.secret_cache_seconds)
            try:
                auth = httpx.BasicAuth(secret["username"], secret["password"])
            except KeyError:
                raise ConfigurationError("caldav secret needs username and password") from None
            self._client = new_client(settings.provider_timeout_seconds, auth=auth)
        return self._client

    def _send(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        with transport_errors(NAME):
            return self._http().request(method, url, **kwargs)

    def _check(self, response: httpx.Response) -> httpx.Response:
        raise_for_status(NAME, response, _no_reason)
        return response

    def _href(self, key: EventKey) -> str:
        return f"{self._collection}{key.digest}.ics"

    def _current_etag(self, href: str) -> str | None:
        """Re-reads the resource: its etag, or None when it does not exist."""
        response = self._send("GET", href)
        if response.status_code == 404:
            return None
        etag: str | None = self._check(response).headers.get("ETag")
        return etag

    def _put(self, href: str, body: bytes, precondition: dict[str, str]) -> httpx.Response:
        return self._send("PUT", href, content=body, headers={"Content-Type": ICAL_TYPE, **precondition})

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
        for _attempt in range(3):
            precondition = {"If-Match": etag} if etag else {"If-None-Match": "*"}
            response = self._put(href, body, precondition)
            if response.status_code == 412 or (response.status_code == 404 and etag):
                etag = self._current_etag(href)  # exists after all (412 on create), changed, or removed
                continue
            if response.status_code in (404, 409):  # WebDAV: the parent collection is missing
                raise ProviderGoneError(NAME, "calendar_missing", response.status_code)
            return self._written(href, self._check(response))
        raise ProviderConflictError(NAME, "etag_race", 412)

    def delete(self, key: EventKey, known: Written | None) -> None:
        href = known.external_id if known else self._href(key)
        etag = known.etag if known else None
        for _attempt in range(3):
            response = self._send("DELETE", href, headers={"If-Match": etag} if etag else {})
            if response.status_code in (404, 410):
                return
            if response.status_code == 412:
                etag = self._current_etag(href)
                if etag is None:
                    return
                continue
            self._check(response)
            return
        raise ProviderConflictError(NAME, "etag_race", 412)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()

