"""Events calsync publishes on its own bus (``Integration Status Changed``, ...)."""

from __future__ import annotations

import json
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from calsync.core.errors import StoreError
from calsync.core.settings import get_settings

if TYPE_CHECKING:
    from mypy_boto3_events import EventBridgeClient

SOURCE = "calsync"


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
