"""``make serve`` end to end, with nothing but the sheet it prints: the way a vendor evaluating calsync tries it.

``python -m devstack.serve`` runs as a separate process (as ``make serve`` runs it). From its sheet alone: a
change sent with the AWS CLI appears in Radicale, in both simulators and in the feed fetched with curl; the
feed URL subscribed with vdirsyncer syncs; a fault switched on in the Google simulator leaves a retry that
the running sweeper completes; the sweeper runs on demand. A second start on the same ports says so; SIGTERM
leaves nothing listening and no temp folder behind.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from devstack import sheet
from devstack.calendar_reader import read_calendar
from devstack.ports import port_is_free
from tests.integration.test_feed_subscriber import Subscriber

ROOT = Path(__file__).resolve().parents[2]
SHEET_END = "Ctrl-C (or SIGTERM) stops everything"


def clean_env(tmp: Path) -> dict[str, str]:
    """This machine's environment without the test session's stack settings, with its own temp folder."""
    kept = {k: v for k, v in os.environ.items()
            if not k.startswith(("AWS_", "CALSYNC_", "POWERTOOLS_")) and k != "SSL_CERT_FILE"}
    return {**kept, "TMPDIR": str(tmp), "PYTHONPATH": f"{ROOT / 'layers' / 'common'}:{ROOT}"}


def serve(env: dict[str, str], output: Path, *extra: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "devstack.serve", *extra], cwd=ROOT, env=env,
                            stdin=subprocess.DEVNULL, stdout=output.open("wb"), stderr=subprocess.STDOUT)


def eventually(check: Callable[[], Any], seconds: float, what: str) -> Any:
    deadline = time.monotonic() + seconds
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {seconds:.0f} s: {what}")
        time.sleep(0.5)


class Sheet:
    """What the printed sheet says: ``label: value`` lines and the commands under their headings."""

    def __init__(self, text: str) -> None:
        self.lines = text.splitlines()

    def value(self, label: str, after: str | None = None) -> str:
        start = self.lines.index(after) if after else 0
        for line in self.lines[start:]:
            if line.strip().startswith(f"{label}: "):
                return line.strip()[len(label) + 2:].split("   ")[0]
        raise AssertionError(f"the sheet has no {label!r}")

    def command(self, heading: str) -> str:
        return self.lines[self.lines.index(heading) + 1].strip()

    def clinician(self, practitioner: str) -> str:
        return next(line for line in self.lines if line.startswith(f"clinician {practitioner} "))

    def ports(self) -> list[int]:
        return sorted({int(port) for port in re.findall(r"127\.0\.0\.1:(\d+)", "\n".join(self.lines))})


def run(command: str, env: dict[str, str]) -> str:
    done = subprocess.run(["bash", "-c", command], env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, f"{command[:80]}... failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def test_make_serve_runs_the_whole_deployment_from_its_sheet(tmp_path: Path) -> None:
    temp = tmp_path / "tmp"
    temp.mkdir()
    env = clean_env(temp)
    output = tmp_path / "serve.out"
    process = serve(env, output, "--sweep-every", "2")
    try:
        text = eventually(lambda: SHEET_END in output.read_text() and output.read_text(), 180, "the sheet")
        found = Sheet(text)
        okafor = found.clinician("dr-okafor")

        # a second start on the same ports says so, and starts nothing
        again = subprocess.run([sys.executable, "-m", "devstack.serve"], cwd=ROOT, env=env, capture_output=True,
                               text=True, timeout=60, check=False)
        assert again.returncode == 2 and "already in use" in again.stdout and "(moto server)" in again.stdout

        # a change sent with the AWS CLI ...
        sent = json.loads(run(found.command(sheet.SEND_A_CHANGE), env))
        assert sent["FailedEntryCount"] == 0
        user, password = found.value("Radicale account", after=okafor).split(" / ")
        caldav = found.value("CalDAV calendar", after=okafor)
        google = found.value("Google calendar", after=okafor)
        microsoft = found.value("Microsoft calendar", after=okafor)
        # ... appears in Radicale, in both simulators and in the feed fetched with curl
        eventually(lambda: len(read_calendar(caldav, user, password)) == 1, 30, "the event in Radicale")
        eventually(lambda: len(httpx.get(google).json()) == 1, 30, "the event in the Google simulator")
        eventually(lambda: len(httpx.get(microsoft).json()) == 1, 30, "the event in the Microsoft simulator")
        feed = run(found.command(sheet.FETCH_A_FEED), env)
        assert feed.count("BEGIN:VEVENT") == 1 and "A-1001" in feed

        # the dashboard's figures page counts the change; the operator CLI from the sheet sees the clinicians
        figures = httpx.get(found.value("dashboard figures") + ".json").json()
        (changes,) = [p for p in figures if p["title"] == "Changes received, written, skipped"]
        assert next(f for f in changes["figures"] if f["label"] == "received")["total"] >= 1
        status = run(found.value("operator CLI") + " --json", env)
        assert {row["practitioner_id"] for row in json.loads(status)} >= {"dr-okafor", "dr-lindqvist"}

        # the feed URL subscribed with vdirsyncer syncs
        subscriber = Subscriber(tmp_path / "vdirsyncer", found.value("ICS feed", after=okafor))
        assert len(subscriber.sync()) == 1

        # a fault in the Google simulator leaves a retry that the running sweeper completes
        assert "armed" in run(found.command(sheet.SWITCH_A_FAULT), env)
        second = found.command(sheet.SEND_A_CHANGE).replace("apt-1", "apt-2")
        assert json.loads(run(second, env))["FailedEntryCount"] == 0
        eventually(lambda: len(read_calendar(caldav, user, password)) == 2, 30, "the second event in Radicale")
        requests_url = google.split("/events?")[0] + "/requests"
        eventually(lambda: any(r["status"] == 503 for r in httpx.get(requests_url).json()), 30, "the 503")
        assert len(httpx.get(google).json()) == 1  # not yet: it waits for its retry
        eventually(lambda: len(httpx.get(google).json()) == 2, 150, "the sweeper's retry in the Google simulator")

        # the sweeper also runs on demand
        assert '"retried"' in run(found.command(sheet.RUN_THE_SWEEPER), env)

        # the connect link opens the connect page; another one comes from the integration API with curl
        opened = httpx.get(found.command(sheet.CONNECT_A_CALENDAR))
        assert opened.status_code == 200 and ">Start</button>" in opened.text
        another = json.loads(run(found.command(sheet.ANOTHER_CONNECT_LINK), env))
        assert httpx.get(another["url"]).status_code == 200
        ports = found.ports()
    finally:
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=90)
    assert code == 0, output.read_text()[-3000:]
    assert "stopped" in output.read_text()
    busy = [port for port in ports if not port_is_free(port)]
    assert busy == [], f"still listening after SIGTERM: {busy}"
    assert list(temp.iterdir()) == [], "temp folders left behind"
