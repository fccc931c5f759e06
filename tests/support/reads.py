"""What calsync reads from DynamoDB, counted on its own client (a botocore hook on the one connection every
table shares): calls per operation and items read — a GetItem that found its item, each item a BatchGetItem
returned, every item a Query or Scan examined (``ScannedCount``: what DynamoDB charges for, whatever a
filter then dropped)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from calsync.store import tables

READS = frozenset({"GetItem", "BatchGetItem", "Query", "Scan"})


@dataclass
class Reads:
    calls: Counter[str] = field(default_factory=Counter)
    items: Counter[str] = field(default_factory=Counter)

    @property
    def total(self) -> int:
        return sum(self.items.values())

    def __str__(self) -> str:
        return ", ".join(f"{op} {self.calls[op]} calls / {self.items[op]} items" for op in sorted(self.calls))


@contextmanager
def counting() -> Iterator[Reads]:
    seen = Reads()

    def after(parsed: dict[str, Any], model: Any, **_: Any) -> None:
        operation = model.name
        if operation not in READS:
            return
        seen.calls[operation] += 1
        if operation == "GetItem":
            seen.items[operation] += 1 if parsed.get("Item") else 0
        elif operation == "BatchGetItem":
            seen.items[operation] += sum(len(found) for found in parsed.get("Responses", {}).values())
        else:
            seen.items[operation] += int(parsed.get("ScannedCount", parsed.get("Count", 0)))

    events = tables.shared_connection().client.meta.events
    events.register("after-call.dynamodb", after)
    try:
        yield seen
    finally:
        events.unregister("after-call.dynamodb", after)
