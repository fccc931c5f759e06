"""Radicale, a real CalDAV server, on 127.0.0.1 with real authentication and per-user rights.

Auth is ``htpasswd`` with ``plain`` entries in a file this module writes, so a wrong password really
gets 401; rights are ``owner_only``, so one clinician cannot touch another's calendars. Radicale runs
with ``htpasswd_cache = False``: it reads the file on every request, so users added with
:meth:`RadicaleServer.add_user` work at once, without a restart (the integration tests rely on it).
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path
from xml.sax.saxutils import escape

import httpx

from devstack import DevstackError
from devstack.ports import LOOPBACK, http_answers
from devstack.process import ServerProcess

_READY_TIMEOUT_SECONDS = 30.0
_USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
_COLLECTION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")

_CONFIG = """\
[server]
hosts = {host}:{port}
max_connections = 64

[auth]
type = htpasswd
htpasswd_filename = {htpasswd}
htpasswd_encryption = plain
htpasswd_cache = False
delay = 0

[rights]
type = owner_only

[storage]
filesystem_folder = {collections}

[web]
type = none

[logging]
level = warning
mask_passwords = True
"""

_MKCALENDAR = """\
<?xml version="1.0" encoding="utf-8"?>
<C:mkcalendar xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">
  <D:set><D:prop>
    <D:displayname>{name}</D:displayname>
    <C:supported-calendar-component-set><C:comp name="VEVENT"/></C:supported-calendar-component-set>
  </D:prop></D:set>
</C:mkcalendar>
"""


_LAUNCH = (
    "import sys, socketserver; socketserver.TCPServer.request_queue_size = 128; "
    "sys.argv[0] = 'radicale'; from radicale.__main__ import run; run()"
)
"""``python -m radicale`` with a listen backlog of 128 instead of ``socketserver``'s 5: Radicale answers each
request on a new connection (HTTP/1.0), so a sync fanned out to twenty calendars opens twenty at once, and
with a backlog of 5 the kernel resets the ones it cannot queue (a CalDAV server in production does not)."""


class RadicaleServer:
    """``python -m radicale`` with a config, an htpasswd file and storage under ``root``."""

    name = "Radicale"

    def __init__(self, port: int, *, root: Path, log_dir: Path) -> None:
        self.port = port
        self._root = root
        self._htpasswd = root / "users"
        self._users: dict[str, str] = {}
        self._launched = False
        self._process = ServerProcess(
            self.name,
            [sys.executable, "-c", _LAUNCH, "--config", str(root / "config")],
            log_path=log_dir / "radicale.log",
            env={key: value for key, value in os.environ.items() if key != "RADICALE_CONFIG"},
        )

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def users(self) -> dict[str, str]:
        """Username → password of every account (local stack only; nothing real lives here)."""
        return dict(self._users)

    def launch(self) -> None:
        (self._root / "collections").mkdir(parents=True, exist_ok=True)
        self._launched = True
        self._write_htpasswd()
        (self._root / "config").write_text(
            _CONFIG.format(
                host=LOOPBACK, port=self.port, htpasswd=self._htpasswd, collections=self._root / "collections"
            )
        )
        self._process.start()

    def wait_ready(self, timeout: float = _READY_TIMEOUT_SECONDS) -> None:
        self._process.wait_until(lambda: http_answers(self.port, "/"), timeout=timeout, what="answering")

    def check_alive(self) -> None:
        self._process.check_alive()

    def stop(self) -> None:
        self._process.stop()
        self._launched = False

    def add_user(self, username: str, password: str) -> None:
        """Adds (or re-keys) an account; effective on the next request, before or after launch."""
        if not _USERNAME.match(username):
            raise DevstackError("a Radicale username is 1-64 of letters, digits and ._@- (starting alphanumeric)")
        if not password or "\n" in password or "\r" in password:
            raise DevstackError("a Radicale password must be non-empty and on one line")
        self._users[username] = password
        if self._launched:
            self._write_htpasswd()

    def calendar_url(self, username: str, calendar_id: str) -> str:
        return f"{self.url}/{username}/{calendar_id}/"

    def make_calendar(self, username: str, calendar_id: str, display_name: str | None = None) -> str:
        """MKCALENDAR ``/<user>/<calendar_id>/`` as that user; returns the collection URL.

        An existing collection is fine (Radicale answers 409), so seeding can be re-run.
        """
        if not _COLLECTION.match(calendar_id):
            raise DevstackError("a calendar id is 1-64 of letters, digits and ._- (starting alphanumeric)")
        url = self.calendar_url(username, calendar_id)
        body = _MKCALENDAR.format(name=escape(display_name or calendar_id))
        response = httpx.request(
            "MKCALENDAR",
            url,
            content=body.encode(),
            headers={"Content-Type": "application/xml; charset=utf-8"},
            auth=(username, self._password(username)),
            timeout=10,
        )
        if response.status_code not in (201, 409):
            raise DevstackError(f"MKCALENDAR {url} answered {response.status_code}")
        return url

    def _password(self, username: str) -> str:
        try:
            return self._users[username]
        except KeyError:
            raise DevstackError(f"no Radicale user {username!r}: add_user() first") from None

    def _write_htpasswd(self) -> None:
        """Replaces the file atomically, so Radicale never reads a half-written one."""
        staging = self._htpasswd.with_suffix(".tmp")
        staging.write_text("".join(f"{user}:{password}\n" for user, password in self._users.items()))
        os.replace(staging, self._htpasswd)
