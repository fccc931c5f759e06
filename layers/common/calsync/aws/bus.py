"""Events calsync publishes on its own bus (``Integration Status Changed``, busy time, conflicts, ...)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from calsync.core.errors import StoreError
from calsync.core.settings import get_settings

if TYPE_CHECKING:
    from mypy_boto3_events import EventBridgeClient

SOURCE = "calsync"
BATCH = 10  # PutEvents takes at most 10 entries


@lru_cache(maxsize=1)
def _client() -> EventBridgeClient:
    import boto3  # lazily: not needed on the common path

    return boto3.client("events")


def publish(detail_type: str, detail: dict[str, Any], *, source: str = SOURCE) -> None:
    """Puts one event on the calsync bus under ``source`` (calsync's own by default); a no-op when no bus is
    configured."""
    bus = get_settings().event_bus_name
    if not bus:
        return
    response = _client().put_events(
        Entries=[{"EventBusName": bus, "Source": source, "DetailType": detail_type,
                  "Detail": json.dumps(detail, sort_keys=True, default=str)}]
    )
    if response.get("FailedEntryCount"):
        raise StoreError(f"PutEvents failed for {detail_type}")


def publish_all(events: Iterable[tuple[str, dict[str, Any]]]) -> int:
    """Puts several ``(detail_type, detail)`` events on the calsync bus, ten per request; returns how many."""
    bus = get_settings().event_bus_name
    entries = [{"EventBusName": bus or "", "Source": SOURCE, "DetailType": detail_type,
                "Detail": json.dumps(detail, sort_keys=True, default=str)} for detail_type, detail in events]
    if not bus:
        return 0
    for start in range(0, len(entries), BATCH):
        response = _client().put_events(Entries=entries[start:start + BATCH])  # type: ignore[arg-type]
        if response.get("FailedEntryCount"):
            raise StoreError("PutEvents failed for some entries")
    return len(entries)
