"""Loopback ports for the local stack: picked before any server starts, so the environment can name them.

Every server of the stack listens on 127.0.0.1 only; nothing here ever binds another address.
"""

from __future__ import annotations

import http.client
import socket
from contextlib import ExitStack

LOOPBACK = "127.0.0.1"


def free_ports(count: int) -> list[int]:
    """``count`` distinct ports that are free on 127.0.0.1 right now.

    The probe sockets stay open until all are picked, so the kernel cannot hand out one port twice.
    """
    with ExitStack() as stack:
        ports: list[int] = []
        for _ in range(count):
            probe = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
            probe.bind((LOOPBACK, 0))
            ports.append(probe.getsockname()[1])
        return ports


def port_is_free(port: int) -> bool:
    """Whether a server could bind 127.0.0.1:``port`` now (a wildcard listener elsewhere also counts as busy)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((LOOPBACK, port))
        except OSError:
            return False
        return True


def http_answers(port: int, path: str = "/", timeout: float = 1.0) -> bool:
    """Whether an HTTP server answers on 127.0.0.1:``port`` (any status counts: it is up)."""
    connection = http.client.HTTPConnection(LOOPBACK, port, timeout=timeout)
    try:
        connection.request("GET", path)
        connection.getresponse().read()
    except (OSError, http.client.HTTPException):
        return False
    finally:
        connection.close()
    return True


def choose_ports(preferred: list[int | None]) -> list[int]:
    """One port per entry: the preferred one when it is free, otherwise any free loopback port."""
    chosen: list[int] = []
    for wanted in preferred:
        if wanted is not None and wanted not in chosen and port_is_free(wanted):
            chosen.append(wanted)
            continue
        port = free_ports(1)[0]
        while port in chosen or port in preferred:
            port = free_ports(1)[0]
        chosen.append(port)
    return chosen
