"""One log line per provider write, with how long it took: what the "slowest provider calls" and "one
appointment's path" Logs Insights queries (template.yaml) read.

:class:`LoggedProvider` wraps the provider ``calsync.services.writers`` builds, so every writer (CalDAV,
Google, Microsoft, the feed) is measured the same way and the engine needs no timing of its own. The line
carries identifiers and codes only: tenant, appointment, integration, provider, operation, the duration,
and ``result`` (``ok``, or the calsync error's reason code).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from calsync.core.errors import ProviderError
from calsync.core.observability import logger
from calsync.domain.event import CalendarEvent, EventKey, Written
from calsync.domain.model import Integration
from calsync.providers.base import CalendarProvider

MESSAGE = "provider call"


class LoggedProvider:
    """A :class:`CalendarProvider` that logs each ``upsert`` and ``delete`` of the one it wraps."""

    def __init__(self, provider: CalendarProvider, integration: Integration) -> None:
        self.wrapped = provider
        self.name = provider.name
        self._integration_id = integration.integration_id
        self._provider = integration.provider.value

    def upsert(self, key: EventKey, event: CalendarEvent, known: Written | None) -> Written:
        return self._timed("upsert", key, lambda: self.wrapped.upsert(key, event, known))

    def delete(self, key: EventKey, known: Written | None) -> None:
        self._timed("delete", key, lambda: self.wrapped.delete(key, known))

    def __getattr__(self, name: str) -> Any:
        """Anything else the provider offers (reads, pulls) passes through unmeasured."""
        return getattr(self.wrapped, name)

    def _timed[T](self, operation: str, key: EventKey, call: Callable[[], T]) -> T:
        started = time.perf_counter()
        result = "ok"
        try:
            return call()
        except ProviderError as error:
            result = error.reason
            raise
        except Exception as error:
            result = type(error).__name__
            raise
        finally:
            logger.info(MESSAGE, extra={
                "tenant_id": key.tenant_id, "appointment_id": key.appointment_id,
                "integration_id": self._integration_id, "provider": self._provider, "operation": operation,
                "result": result, "duration_ms": round((time.perf_counter() - started) * 1000, 1)})
