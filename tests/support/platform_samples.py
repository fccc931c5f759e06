"""The recorded booking-platform payloads in ``events/platforms/<platform>/<event>.json``, moved in time.

Every sample books on 2027-03-15 and changes on 2027-03-14 (in the formats the platforms write: ISO,
``15-Mar-2027``, iCalendar's ``20270315``); :func:`load` moves them to tomorrow and yesterday, so the
appointments always fall inside a clinician's sync window, and were changed in the past (the contract
refuses a change stamped ahead of the receiving clock), whenever the tests run.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2] / "events" / "platforms"
SAMPLE_DAY, SAMPLE_CHANGE_DAY = dt.date(2027, 3, 15), dt.date(2027, 3, 14)
API_HOST = "a1b2c3d4e5.execute-api.us-east-1.amazonaws.com"

# The staff member each platform's samples name, and the calsync practitioner a tenant maps them to.
STAFF = {
    "calendly": "USR0OKAFOR000001", "acuity": "4101", "square": "TMSAMPLELINDQ1", "hubspot": "OWN81",
    "calcom": "2047", "jane": "17", "salesforce": "0055e000001SAMPLE", "simplybook": "6", "timetap": "7301",
    "youcanbookme": "prof-okafor", "appointlet": "host-lindqvist", "setmore": "sm-staff-okafor",
    "bookafy": "bfy-staff-okafor", "zoho_bookings": "zb-staff-lindqvist",
}
EXPORT_PLATFORMS = ("simplepractice", "doodle")


def _formats(day: dt.date) -> list[str]:
    return [day.isoformat(), day.strftime("%d-%b-%Y"), day.strftime("%Y%m%d")]


def retime(text: str, today: dt.date) -> str:
    pairs = [*zip(_formats(SAMPLE_DAY), _formats(today + dt.timedelta(days=1)), strict=True),
             *zip(_formats(SAMPLE_CHANGE_DAY), _formats(today - dt.timedelta(days=1)), strict=True)]
    for index, (old, _) in enumerate(pairs):  # through placeholders: a new date may look like an old one
        text = text.replace(old, f"\x00{index}\x00")
    for index, (_, new) in enumerate(pairs):
        text = text.replace(f"\x00{index}\x00", new)
    return text


@dataclass(frozen=True)
class Sample:
    platform: str
    name: str
    description: str
    content_type: str
    body: Any
    api: dict[str, Any]

    @property
    def raw(self) -> bytes:
        """The body bytes as the platform sends them (compact JSON, the form string, the XML)."""
        if isinstance(self.body, str):
            return self.body.encode("utf-8")
        return json.dumps(self.body, separators=(",", ":")).encode("utf-8")

    def with_body(self, body: Any) -> Sample:
        return Sample(self.platform, self.name, self.description, self.content_type, body, self.api)


def load(platform: str, name: str, today: dt.date | None = None) -> Sample:
    today = today or dt.datetime.now(dt.UTC).date()
    document = json.loads(retime((ROOT / platform / f"{name}.json").read_text(encoding="utf-8"), today))
    return Sample(platform, name, document["description"], document["content_type"], document["body"],
                  document.get("api", {}))


def names(platform: str) -> list[str]:
    return sorted(path.stem for path in (ROOT / platform).glob("*.json"))


def every_sample() -> list[tuple[str, str]]:
    return [(folder.name, path.stem) for folder in sorted(ROOT.iterdir()) if folder.is_dir()
            for path in sorted(folder.glob("*.json"))]
