"""The functions' log groups, locally: what each local function writes (Powertools' JSON log lines and its
EMF metric blobs), kept per log group as CloudWatch Logs keeps it, plus one platform report per invocation.

In AWS, Lambda sends a function's standard output to its log group (template.yaml's ``LoggingConfig``), where
``calsync logs`` reads it and CloudWatch turns the EMF blobs into metrics. Locally every function runs in one
process, on threads, so standard output is routed by thread: while a function runs on a thread, each line
that thread writes is appended to the function's log group, and still goes where it went before (the
terminal of ``make serve``, a test's capture).

On disk, under one folder: ``<log group with / as __>.jsonl``, one event per line, shaped as
CloudWatch Logs' ``FilterLogEvents`` returns it — ``{"timestamp": ms, "logGroupName": ..., "logStreamName":
..., "message": the line}``. ``calsync logs`` (given the folder as ``CALSYNC_LOCAL_LOGS``) and the local
figures page (``devstack.figures``) read it; nothing here is part of calsync.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

LOCAL_LOGS_VARIABLE = "CALSYNC_LOCAL_LOGS"
"""The environment variable that tells ``calsync logs`` where the local log groups are."""
REPORT_TYPE = "platform.report"

_local = threading.local()
_install_lock = threading.Lock()


def file_name(group: str) -> str:
    return group.strip("/").replace("/", "__") + ".jsonl"


class _Router:
    """A text stream that copies what the current thread writes to its function's log group, if it runs one."""

    def __init__(self, inner: IO[str]) -> None:
        self.inner = inner

    def write(self, text: str) -> int:
        sink: _Sink | None = getattr(_local, "sink", None)
        if sink is not None:
            sink.write(text)
        return self.inner.write(text)

    def flush(self) -> None:
        self.inner.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class _Sink:
    def __init__(self, logs: LogGroups, group: str, stream: str) -> None:
        self._logs, self._group, self._stream = logs, group, stream
        self._partial = ""

    def write(self, text: str) -> None:
        *lines, self._partial = (self._partial + text).split("\n")
        for line in lines:
            if line.strip():
                self._logs.append(self._group, self._stream, line)

    def close(self) -> None:
        if self._partial.strip():
            self._logs.append(self._group, self._stream, self._partial)
        self._partial = ""


class LogGroups:
    """The local log groups, in ``folder`` (created on the first line)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._lock = threading.Lock()

    def append(self, group: str, stream: str, message: str, timestamp_ms: int | None = None) -> None:
        event = {"timestamp": timestamp_ms if timestamp_ms is not None else int(time.time() * 1000),
                 "logGroupName": group, "logStreamName": stream, "message": message}
        with self._lock:
            self.folder.mkdir(parents=True, exist_ok=True)
            with (self.folder / file_name(group)).open("a", encoding="utf-8") as out:
                out.write(json.dumps(event) + "\n")

    @contextmanager
    def capture(self, group: str, stream: str = "local") -> Iterator[None]:
        """Everything the calling thread writes to standard output (and calsync's logger) while the block
        runs is appended to ``group`` too."""
        _install_routers()
        previous = getattr(_local, "sink", None)
        sink = _local.sink = _Sink(self, group, stream)
        try:
            yield
        finally:
            sink.close()
            _local.sink = previous

    def report(self, group: str, request_id: str, duration_ms: float, error: str | None) -> None:
        """Lambda's platform report of one invocation (its JSON log format): duration and outcome."""
        self.append(group, "local", json.dumps({
            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "type": REPORT_TYPE,
            "record": {"requestId": request_id, "status": "error" if error else "success",
                       "errorType": error, "metrics": {"durationMs": round(duration_ms, 3)}}}))

    def events(self, group: str | None = None, since_ms: int = 0) -> Iterator[dict[str, Any]]:
        """The stored events (of one group, or of all), oldest first per group."""
        files = [self.folder / file_name(group)] if group else sorted(self.folder.glob("*.jsonl"))
        for path in files:
            if not path.exists():
                continue
            with self._lock, path.open(encoding="utf-8") as lines:
                events = [json.loads(line) for line in lines if line.strip()]
            yield from (event for event in events if event["timestamp"] >= since_ms)


def _install_routers() -> None:
    """Routes standard output and calsync's logger through a :class:`_Router` (again, whenever something
    put another stream in their place: a test's capture, ``make serve``'s terminal)."""
    import logging

    from calsync.core.observability import logger

    with _install_lock:
        if not isinstance(sys.stdout, _Router):
            sys.stdout = _Router(sys.stdout)
        handler = logger.registered_handler
        if isinstance(handler, logging.StreamHandler) and not isinstance(handler.stream, _Router):
            handler.setStream(_Router(handler.stream))
