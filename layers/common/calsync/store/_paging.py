"""One page of a Query, read on purpose: sweeps bound the items they *read* per run (a filter may
return fewer), and resume from the key DynamoDB says it stopped at."""

from __future__ import annotations

from typing import Any

from pynamodb.models import Model
from pynamodb.pagination import ResultIterator


def one_page[M: Model](results: ResultIterator[M], model: type[M]) -> tuple[list[M], dict[str, Any] | None]:
    """The items of the first page of ``results`` and its LastEvaluatedKey (None: nothing follows)."""
    try:
        page = next(results.page_iter)
    except StopIteration:
        return [], None
    items = [model.from_raw_data(raw) for raw in page.get("Items", [])]
    return items, page.get("LastEvaluatedKey")
