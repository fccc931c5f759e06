"""Events calsync publishes on its own bus (``Integration Status Changed``, ...)."""

from __future__ import annotations

import json
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from calsync.errors import StoreError
from calsync.settings import get_settings

if TYPE_CHECKING:
    from mypy_boto3_events import EventBridgeClient

SOURCE = "calsync"


@lru_cache(maxsize=1)
def _client() -> EventBridgeClient:
    import boto3  # lazily: not needed on the common path

    return boto3.client("events")


def publish(detail_type: str, detail: dict[str, Any], *, source: str = SOURCE) -> None:
    """Puts one event on the calsync bus; a no-op when no bus is configured."""
    publish_all(detail_type, [detail], source=source)


def publish_all(detail_type: str, details: list[dict[str, Any]], *, source: str = SOURCE) -> None:
    """Puts events on the calsync bus, ten per call (PutEvents' limit); a no-op when no bus is configured.
    Raises :class:`StoreError` if any entry was refused (the caller retries all of them: duplicates are
    harmless, every event carries full state)."""
    bus = get_settings().event_bus_name
    if not bus:
        return
    for start in range(0, len(details), 10):
        response = _client().put_events(
            Entries=[{"EventBusName": bus, "Source": source, "DetailType": detail_type,
                      "Detail": json.dumps(detail, sort_keys=True, default=str)}
                     for detail in details[start:start + 10]]
        )
        if response.get("FailedEntryCount"):
            raise StoreError(f"PutEvents failed for {detail_type}")
