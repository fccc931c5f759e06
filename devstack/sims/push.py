"""Outbound webhook calls of the simulators (Google push notifications, Graph change and lifecycle
notifications, Graph's validation handshake), with switches that make them unreliable on demand.

Each simulator has one :class:`Outbox` (``sim.push``). Notifications leave from a worker thread in
the order they were made, one at a time, never under the simulator's lock (the receiver may call the
simulator back). Switches apply to the next notifications, first queued first used:

    sim.push.drop(times=2)        # the next two notifications are never sent
    sim.push.duplicate()          # the next one is sent twice
    sim.push.delay(0.5)           # the next one leaves 0.5 s late (later ones overtake it)
    sim.push.reorder(3)           # the next three are held, then sent last-first
    sim.push.hold(); ...; sim.push.release([2, 0, 1])   # any order, by hand

A receiver that answers 5xx (Google: 500/502/503/504; Graph: anything but 2xx) or does not answer
gets the notification again after each of ``retry_delays`` (seconds, scaled down from the providers'
minutes and hours). ``sim.push.deliveries`` logs every attempt; ``sim.push.wait_idle()`` waits until
nothing is queued. Only loopback addresses are ever contacted; https receivers are trusted through the
system store plus any CA bundle given to :meth:`Outbox.trust`.
"""

from __future__ import annotations

import heapq
import ipaddress
import itertools
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx


@dataclass(frozen=True)
class Notification:
    url: str
    headers: dict[str, str]
    body: bytes
    channel: str
    kind: str


@dataclass(frozen=True)
class Delivery:
    """One attempt: the answer's status, or None and the error when there was no answer."""

    notification: Notification
    attempt: int
    status: int | None
    error: str | None
    at: float


@dataclass
class _Effect:
    kind: str
    times: int
    seconds: float = 0.0
    gathered: list[Notification] = field(default_factory=list)


def is_loopback_url(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class Outbox:
    """Sends notifications from a worker thread, with drop/duplicate/delay/reorder switches."""

    def __init__(self, name: str, *, timeout: float, retry_on: Callable[[int | None], bool],
                 retry_delays: tuple[float, ...] = (0.05, 0.2, 0.5)) -> None:
        self.name = name
        self.timeout = timeout
        self.retry_on = retry_on
        self.retry_delays = retry_delays
        self._trusted: list[Path] = []
        self._client: httpx.Client | None = None
        self._cond = threading.Condition()
        self._queue: list[tuple[float, int, Notification, int]] = []
        self._seq = itertools.count()
        self._effects: list[_Effect] = []
        self._held: list[Notification] | None = None
        self._busy = False
        self._deliveries: list[Delivery] = []
        self._dropped: list[Notification] = []
        self._thread: threading.Thread | None = None
        self._stopping = False

    # -- switches -----------------------------------------------------------------------------------

    def drop(self, times: int = 1) -> None:
        self._add(_Effect("drop", times))

    def duplicate(self, times: int = 1) -> None:
        self._add(_Effect("duplicate", times))

    def delay(self, seconds: float, times: int = 1) -> None:
        self._add(_Effect("delay", times, seconds))

    def reorder(self, count: int) -> None:
        """The next ``count`` notifications are held and then sent in reverse order."""
        if count < 2:
            raise ValueError("reordering needs at least two notifications")
        self._add(_Effect("reorder", count))

    def hold(self) -> None:
        """Keeps every notification from now on until :meth:`release`."""
        with self._cond:
            self._held = [] if self._held is None else self._held

    def release(self, order: list[int] | None = None) -> None:
        """Sends the held notifications, in ``order`` (indexes into the held list; default: as made)."""
        with self._cond:
            held, self._held = self._held or [], None
            for index in order if order is not None else range(len(held)):
                self._enqueue(held[index], 0.0, 1)

    def trust(self, ca_bundle: Path) -> None:
        """Trusts receivers whose certificate this CA signed (a test's own https receiver)."""
        with self._cond:
            self._trusted.append(ca_bundle)
            self._client = None

    def clear(self) -> None:
        """Forgets switches, held and queued notifications and the delivery log."""
        with self._cond:
            self._effects.clear()
            self._queue.clear()
            self._held = None
            self._deliveries.clear()
            self._dropped.clear()
            self._cond.notify_all()

    def _add(self, effect: _Effect) -> None:
        if effect.times < 1:
            raise ValueError("times must be at least 1")
        with self._cond:
            self._effects.append(effect)

    # -- inspection ---------------------------------------------------------------------------------

    @property
    def deliveries(self) -> list[Delivery]:
        with self._cond:
            return list(self._deliveries)

    @property
    def dropped(self) -> list[Notification]:
        with self._cond:
            return list(self._dropped)

    @property
    def held(self) -> list[Notification]:
        with self._cond:
            return list(self._held or [])

    def wait_idle(self, timeout: float = 10.0) -> None:
        """Waits until nothing is queued or being sent (held notifications do not count)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._queue or self._busy:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"{self.name}: notifications still queued after {timeout} s")
                self._cond.wait(left)

    # -- sending ------------------------------------------------------------------------------------

    def send(self, notification: Notification) -> None:
        """Queues one notification, through the switches."""
        with self._cond:
            effect = next((e for e in self._effects if e.times > 0), None)
            if self._held is not None and (effect is None or effect.kind != "drop"):
                self._held.append(notification)
                return
            if effect is None:
                self._enqueue(notification, 0.0, 1)
                return
            if effect.kind == "reorder":
                effect.gathered.append(notification)
                if len(effect.gathered) == effect.times:
                    for gathered in reversed(effect.gathered):
                        self._enqueue(gathered, 0.0, 1)
                    self._effects.remove(effect)
                return
            effect.times -= 1
            if effect.times == 0:
                self._effects.remove(effect)
            if effect.kind == "drop":
                self._dropped.append(notification)
            elif effect.kind == "duplicate":
                self._enqueue(notification, 0.0, 1)
                self._enqueue(notification, 0.0, 1)
            else:
                self._enqueue(notification, effect.seconds, 1)

    def _enqueue(self, notification: Notification, delay: float, attempt: int) -> None:
        heapq.heappush(self._queue, (time.monotonic() + delay, next(self._seq), notification, attempt))
        if self._thread is None or not self._thread.is_alive():
            self._stopping = False
            self._thread = threading.Thread(target=self._work, name=f"{self.name}-push", daemon=True)
            self._thread.start()
        self._cond.notify_all()

    def _work(self) -> None:
        while True:
            with self._cond:
                while not self._stopping and (not self._queue or self._queue[0][0] > time.monotonic()):
                    self._cond.wait(None if not self._queue else max(0.0, self._queue[0][0] - time.monotonic()))
                if self._stopping:
                    return
                _, _, notification, attempt = heapq.heappop(self._queue)
                self._busy = True
            status, problem = self.post(notification.url, notification.headers, notification.body)
            with self._cond:
                self._busy = False
                self._deliveries.append(Delivery(notification, attempt, status, problem, time.time()))
                ok = status is not None and (200 <= status < 300 or status == 102)
                if not ok and self.retry_on(status) and attempt <= len(self.retry_delays):
                    self._enqueue(notification, self.retry_delays[attempt - 1], attempt + 1)
                self._cond.notify_all()

    def post(self, url: str, headers: dict[str, str], body: bytes,
             timeout: float | None = None) -> tuple[int | None, str | None]:
        """One POST (the handshake calls this directly): the status, or None and what went wrong."""
        answer = self.call(url, headers, body, timeout)
        return (answer.status_code, None) if isinstance(answer, httpx.Response) else (None, answer)

    def call(self, url: str, headers: dict[str, str], body: bytes,
             timeout: float | None = None) -> httpx.Response | str:
        if not is_loopback_url(url):
            return "refused: the simulators only call loopback addresses"
        try:
            return self._http().post(url, headers=headers, content=body, timeout=timeout or self.timeout)
        except httpx.TimeoutException:
            return "timeout"
        except httpx.HTTPError as failure:
            return f"{type(failure).__name__}: {failure}"

    def _http(self) -> httpx.Client:
        with self._cond:
            if self._client is None:
                context = ssl.create_default_context()
                for bundle in self._trusted:
                    context.load_verify_locations(cafile=str(bundle))
                self._client = httpx.Client(verify=context, follow_redirects=False, trust_env=False)
            return self._client

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._client is not None:
            self._client.close()
            self._client = None
