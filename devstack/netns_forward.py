"""Relays 127.0.0.1:<port> of this network namespace to a port on loopback inside another process's namespace.

DynamoDB Local binds every interface and has no host option, so it runs in a private network namespace
that has only loopback. This forwarder is the one way in: it listens on 127.0.0.1 here and, for each
connection, opens the upstream socket *inside* the child's namespace. A socket keeps the namespace it
was created in, so one dedicated thread joins the child's namespace once (``setns`` affects only the
calling thread) and creates every upstream socket; the bytes are then pumped by ordinary threads.

It runs as a process of its own (``python -m devstack.netns_forward``, :class:`ForwarderProcess`): its pump
threads wake for every DynamoDB request and answer, and in the caller's interpreter they would compete for
the caller's GIL with the very code a test or a benchmark measures.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import queue
import signal
import socket
import sys
import threading
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path

from devstack import DevstackError
from devstack.ports import LOOPBACK, port_is_free
from devstack.process import ServerProcess

_CHUNK = 65536
_CONNECT_TIMEOUT_SECONDS = 2.0


def namespace_inode(pid: int | str) -> int:
    """Identity of a process's network namespace (``"self"`` for this process)."""
    return os.stat(f"/proc/{pid}/ns/net").st_ino


class NetnsForwarder:
    """TCP forwarder from ``127.0.0.1:listen_port`` here to ``127.0.0.1:target_port`` in ``target_pid``'s netns."""

    def __init__(self, target_pid: int, target_port: int, *, listen_port: int = 0) -> None:
        self._target_pid = target_pid
        self._target_port = target_port
        self._listen_port = listen_port
        self._listener: socket.socket | None = None
        self._requests: queue.SimpleQueue[Future[socket.socket] | None] = queue.SimpleQueue()
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._closed = threading.Event()

    @property
    def port(self) -> int:
        if self._listener is None:
            raise DevstackError("the forwarder is not listening")
        port: int = self._listener.getsockname()[1]
        return port

    def start(self) -> None:
        """Joins the target namespace (in a dedicated thread), then listens on 127.0.0.1 here."""
        if namespace_inode(self._target_pid) == namespace_inode("self"):
            raise DevstackError(f"process {self._target_pid} shares this network namespace; refusing to forward")
        joined: Future[None] = Future()
        threading.Thread(target=self._connector, args=(joined,), name="netns-connector", daemon=True).start()
        joined.result(timeout=5)
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            listener.bind((LOOPBACK, self._listen_port))
        except OSError as error:
            listener.close()
            self._requests.put(None)
            raise DevstackError(f"cannot listen on {LOOPBACK}:{self._listen_port}: {error}") from None
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept_loop, args=(listener,), name="netns-accept", daemon=True).start()

    def close(self) -> None:
        """Stops accepting, ends the connector thread and cuts every relayed connection; idempotent."""
        if self._closed.is_set():
            return
        self._closed.set()
        self._requests.put(None)
        if self._listener is not None:
            _shutdown(self._listener)
            self._listener.close()
        with self._lock:
            remaining, self._open = self._open, set()
        for sock in remaining:
            _shutdown(sock)
            sock.close()

    # -- threads ------------------------------------------------------------------------------------

    def _connector(self, joined: Future[None]) -> None:
        """Lives in the child's namespace: creates and connects every upstream socket."""
        try:
            with open(f"/proc/{self._target_pid}/ns/net", "rb") as namespace:
                os.setns(namespace.fileno(), os.CLONE_NEWNET)
        except OSError as error:
            joined.set_exception(DevstackError(f"cannot join the network namespace of {self._target_pid}: {error}"))
            return
        joined.set_result(None)
        while (request := self._requests.get()) is not None:
            upstream = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            upstream.settimeout(_CONNECT_TIMEOUT_SECONDS)
            try:
                upstream.connect((LOOPBACK, self._target_port))
            except OSError as error:
                upstream.close()
                request.set_exception(error)
                continue
            upstream.settimeout(None)
            request.set_result(upstream)

    def _accept_loop(self, listener: socket.socket) -> None:
        while not self._closed.is_set():
            try:
                client, _ = listener.accept()
            except OSError:
                return
            request: Future[socket.socket] = Future()
            self._requests.put(request)
            try:
                upstream = request.result(timeout=_CONNECT_TIMEOUT_SECONDS + 1)
            except Exception:  # upstream not listening (yet): the client sees the connection close
                client.close()
                continue
            for sock in (client, upstream):  # relay each write at once (no Nagle + delayed-ACK stalls)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._lock:
                if self._closed.is_set():
                    client.close()
                    upstream.close()
                    return
                self._open.update((client, upstream))
            pair = _Pair(client, upstream, self._forget)
            threading.Thread(target=pair.pump, args=(client, upstream), daemon=True).start()
            threading.Thread(target=pair.pump, args=(upstream, client), daemon=True).start()

    def _forget(self, *socks: socket.socket) -> None:
        with self._lock:
            self._open.difference_update(socks)
        for sock in socks:
            sock.close()


class _Pair:
    """One relayed connection: two pumps, half-close on EOF, sockets closed when both directions end."""

    def __init__(self, a: socket.socket, b: socket.socket, forget: Callable[..., None]) -> None:
        self._socks = (a, b)
        self._forget = forget
        self._remaining = 2
        self._lock = threading.Lock()

    def pump(self, source: socket.socket, target: socket.socket) -> None:
        try:
            while data := source.recv(_CHUNK):
                target.sendall(data)
            target.shutdown(socket.SHUT_WR)
        except OSError:  # reset or closed by the other pump: end both directions
            for sock in self._socks:
                _shutdown(sock)
        with self._lock:
            self._remaining -= 1
            done = self._remaining == 0
        if done:
            self._forget(*self._socks)


def _shutdown(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


class ForwarderProcess:
    """A :class:`NetnsForwarder` in a child process of its own, listening on ``listen_port`` here."""

    name = "netns forwarder"

    def __init__(self, target_pid: int, target_port: int, *, listen_port: int, log_path: Path) -> None:
        self.listen_port = listen_port
        self._process = ServerProcess(
            self.name,
            [sys.executable, "-m", "devstack.netns_forward", str(target_pid), str(target_port), str(listen_port)],
            log_path=log_path,
            env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
        )

    def start(self, timeout: float = 10.0) -> None:
        self._process.start()
        self._process.wait_until(lambda: not port_is_free(self.listen_port), timeout=timeout, what="listening")

    def check_alive(self) -> None:
        self._process.check_alive()

    def close(self) -> None:
        self._process.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="relay 127.0.0.1:LISTEN here to 127.0.0.1:PORT in PID's netns")
    parser.add_argument("pid", type=int)
    parser.add_argument("port", type=int)
    parser.add_argument("listen", type=int)
    args = parser.parse_args(argv)
    forwarder = NetnsForwarder(args.pid, args.port, listen_port=args.listen)
    forwarder.start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    forwarder.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
