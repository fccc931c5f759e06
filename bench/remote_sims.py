"""The Google and Graph simulators in a process of their own, for benchmarks: a provider is another machine,
and a simulator sharing the benchmarked process would spend that process's CPU (and its GIL) answering it.

A ``multiprocessing`` manager runs each simulator in one child process and hands back proxies: setup and
inspection (``register_client``, ``connect``, ``events``...) are method calls over a pipe, the API itself is
plain HTTP on loopback, exactly as with an in-process simulator.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from multiprocessing.managers import BaseManager
from typing import Any

from devstack.sims.google import GoogleCalendarSimulator
from devstack.sims.microsoft import MicrosoftGraphSimulator


class RemoteGoogle(GoogleCalendarSimulator):
    def begin(self) -> None:
        """``start``, answering nothing (a proxy cannot send the simulator itself back)."""
        self.start()

    def address(self, name: str) -> Any:
        """A property's value (a proxy forwards method calls only)."""
        return getattr(self, name)


class RemoteGraph(MicrosoftGraphSimulator):
    def begin(self) -> None:
        self.start()

    def address(self, name: str) -> Any:
        return getattr(self, name)


class SimulatorHost(BaseManager):
    """The child process the simulators live in."""


EXPOSED = ("begin", "stop", "address", "register_client", "add_user", "connect", "events", "calls", "inject",
           "reset", "add_calendar", "create_event")
SimulatorHost.register("google", RemoteGoogle, exposed=EXPOSED)
SimulatorHost.register("graph", RemoteGraph, exposed=EXPOSED)


@contextmanager
def remote_simulators() -> Iterator[tuple[Any, Any]]:
    """Both simulators started in a child process, calsync pointed at them (as ``simulator_env`` does)."""
    host = SimulatorHost()
    host.start()
    try:
        google, graph = host.google(), host.graph()  # type: ignore[attr-defined]
        google.begin()
        graph.begin()
        os.environ.update({
            "CALSYNC_LOCAL_DEVELOPMENT": "true", "SSL_CERT_FILE": str(graph.address("ca_bundle")),
            "CALSYNC_GOOGLE_API_BASE": google.address("api_base"),
            "CALSYNC_GOOGLE_TOKEN_URI": google.address("token_uri"),
            "CALSYNC_GRAPH_API_BASE": graph.address("api_base"),
            "CALSYNC_MICROSOFT_LOGIN_BASE": graph.address("login_base")})
        from calsync.core.settings import get_settings

        get_settings.cache_clear()
        try:
            yield google, graph
        finally:
            google.stop()
            graph.stop()
    finally:
        host.shutdown()
