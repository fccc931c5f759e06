"""Relays 127.0.0.1:<port> of this network namespace to a port on loopback inside another process's namespace.

DynamoDB Local binds every interface and has no host option, so it runs in a private network namespace
that has only loopback. This forwarder is the one way in: it listens on 127.0.0.1 here and, for each
connection, opens the upstream socket *inside* the child's namespace. A socket keeps the namespace it
was created in, so one dedicated thread joins the child's namespace once (``setns`` affects only the
calling thread) and creates every upstream socket; the bytes are then pumped by ordinary threads.
"""

from __future__ import annotations

import contextlib
import os
import queue
import socket
import threading
from collections.abc import Callable
from concurrent.futures import Future

from devstack import DevstackError
from devstack.ports import LOOPBACK

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
