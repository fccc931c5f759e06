"""docs/booking-platforms.md says, for every platform, whether its scheme is verified against the platform's
published documentation or unconfirmed; the adapters say the same (``Platform.documented``). One truth."""

from __future__ import annotations

import re
from pathlib import Path

from calsync.platforms import registry

DOC = (Path(__file__).resolve().parents[2] / "docs" / "booking-platforms.md").read_text(encoding="utf-8")


def documented_status() -> dict[str, bool]:
    rows = [line for line in DOC.splitlines() if line.startswith("| ") and ("**verified**" in line
                                                                          or "**unconfirmed**" in line)]
    return {line.split("|")[1].strip(): "**verified**" in line for line in rows}


def test_every_platform_has_one_row_and_the_same_status_as_its_adapter():
    rows = documented_status()
    titles = {platform.title.split(" (")[0]: platform.documented for platform in registry.all_platforms()}
    assert {row.split(" (")[0]: status for row, status in rows.items()} == titles


def test_the_counts_in_the_doc_add_up():
    verified = sum(documented_status().values())
    match = re.search(r"\*\*(\d+) verified, (\d+) unconfirmed\*\* \(of (\d+)\)", DOC)
    assert match is not None
    assert tuple(map(int, match.groups())) == (verified, len(documented_status()) - verified, len(registry.names()))
