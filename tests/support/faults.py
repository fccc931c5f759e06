"""Provider faults on demand: a :class:`CalendarProvider` wrapper around a real provider (Radicale's
CalDAV, the Google and Microsoft simulators) that fails the way real calendars do.

    plan = FaultPlan()
    with injected(plan):                       # every CalDAV integration now goes through the wrapper
        plan.arm(Fault.LOST_RESPONSE)          # the next call writes, then its answer is lost
        engine.handle_change(appointment, now)

Faults *before* the write: 5xx, 429 with ``Retry-After``, a timeout, revoked credentials, a refusal.
Faults *after* the write: a lost response (written, then a timeout), and a crash — the process dies
between the provider write and the ledger write (:class:`SimulatedCrash` is a ``BaseException`` the
engine does not catch, so its lease stays behind, as after a killed Lambda).
"""

from __future__ import annotations

import threading
from collections import Counter, deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import StrEnum

from calsync.core.errors import (
    ProviderAuthError,
    ProviderRateLimitedError,
    ProviderRejectedError,
    ProviderUnavailableError,
)
from calsync.domain.event import CalendarEvent, EventKey, Written
from calsync.domain.model import Integration, Provider
from calsync.providers.base import CalendarProvider
from calsync.services import writers

RETRY_AFTER_SECONDS = 7200.0  # longer than the first retry delays: the provider's wait must win


class Fault(StrEnum):
    UNAVAILABLE = "5xx"
    RATE_LIMITED = "429"
    TIMEOUT = "timeout"
    AUTH_REVOKED = "auth_revoked"
    REJECTED = "rejected"
    LOST_RESPONSE = "lost_response"
    CRASH_AFTER_WRITE = "crash_after_write"


BEFORE_WRITE = {Fault.UNAVAILABLE, Fault.RATE_LIMITED, Fault.TIMEOUT, Fault.AUTH_REVOKED, Fault.REJECTED}


class SimulatedCrash(BaseException):
    """The process died right after the provider call returned: nothing after it ran."""


class FaultPlan:
    """Faults armed for the next provider calls (of one integration, or of any), and what happened."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._armed: dict[str | None, deque[Fault]] = {}
        self.calls: Counter[str] = Counter()  # by integration id
        self.injected: Counter[Fault] = Counter()
        self.writes = 0  # calls that reached the real provider
        self.methods: Counter[str] = Counter()  # "upsert" / "delete" calls, faulted or not

    def arm(self, fault: Fault, integration_id: str | None = None, times: int = 1) -> None:
        with self._lock:
            self._armed.setdefault(integration_id, deque()).extend([fault] * times)

    def disarm(self) -> None:
        with self._lock:
            self._armed.clear()

    def take(self, integration_id: str) -> Fault | None:
        with self._lock:
            self.calls[integration_id] += 1
            for queue_key in (integration_id, None):
                queue = self._armed.get(queue_key)
                if queue:
                    fault = queue.popleft()
                    self.injected[fault] += 1
                    return fault
            return None

    @property
    def total_calls(self) -> int:
        return sum(self.calls.values())


def _raise_before(provider: str, fault: Fault) -> None:
    if fault is Fault.UNAVAILABLE:
        raise ProviderUnavailableError(provider, "http_503", 503)
    if fault is Fault.RATE_LIMITED:
        raise ProviderRateLimitedError(provider, "http_429", 429, RETRY_AFTER_SECONDS)
    if fault is Fault.TIMEOUT:
        raise ProviderUnavailableError(provider, "timeout")
    if fault is Fault.AUTH_REVOKED:
        raise ProviderAuthError(provider, "reauth_required", 401)
    raise ProviderRejectedError(provider, "http_400", 400)


def _after(provider: str, fault: Fault | None) -> None:
    if fault is Fault.LOST_RESPONSE:
        raise ProviderUnavailableError(provider, "timeout")
    if fault is Fault.CRASH_AFTER_WRITE:
        raise SimulatedCrash


class FaultyProvider:
    """Wraps a real provider; each call first consults the plan."""

    def __init__(self, inner: CalendarProvider, integration_id: str, plan: FaultPlan) -> None:
        self.inner = inner
        self.name = inner.name
        self._integration_id = integration_id
        self._plan = plan

    def _fault(self) -> Fault | None:
        fault = self._plan.take(self._integration_id)
        if fault in BEFORE_WRITE:
            assert fault is not None
            _raise_before(self.name, fault)
        return fault

    def upsert(self, key: EventKey, event: CalendarEvent, known: Written | None) -> Written:
        self._plan.methods["upsert"] += 1
        fault = self._fault()
        written = self.inner.upsert(key, event, known)
        self._plan.writes += 1
        _after(self.name, fault)
        return written

    def delete(self, key: EventKey, known: Written | None) -> None:
        self._plan.methods["delete"] += 1
        fault = self._fault()
        self.inner.delete(key, known)
        self._plan.writes += 1
        _after(self.name, fault)


Factory = Callable[[Integration], CalendarProvider]


REAL_FACTORIES: dict[Provider, Factory] = {Provider.CALDAV: writers.build, Provider.GOOGLE: writers.build,
                                           Provider.MICROSOFT: writers.build}
"""The real provider behind each wrapped kind (Radicale's CalDAV, the Google and Graph simulators)."""


def _wrapping(real: Factory, plan: FaultPlan) -> Factory:
    def factory(integration: Integration) -> CalendarProvider:
        return FaultyProvider(real(integration), integration.integration_id, plan)

    return factory


@contextmanager
def injected(plan: FaultPlan, providers: dict[Provider, Factory] | None = None) -> Iterator[FaultPlan]:
    """Routes every integration of the given kinds (CalDAV by default) through :class:`FaultyProvider`."""
    chosen = providers or {Provider.CALDAV: writers.build}
    for kind, real in chosen.items():
        writers.override(kind, _wrapping(real, plan))
    try:
        yield plan
    finally:
        for kind in chosen:
            writers.override(kind, None)
