"""A child server of the local stack: output goes to a log file, readiness is polled, stop is by PID.

Children run in their own session, so a Ctrl-C in the terminal reaches only the parent, which then
stops them in order instead of leaving half-dead servers behind.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO

from devstack import DevstackError

_POLL_SECONDS = 0.05


class ServerProcess:
    """One long-running child process with its own log file."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        *,
        log_path: Path,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
    ) -> None:
        self.name = name
        self._argv = list(argv)
        self._log_path = log_path
        self._env = dict(env) if env is not None else None
        self._cwd = cwd
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def pid(self) -> int:
        if self._process is None:
            raise DevstackError(f"{self.name} is not started")
        return self._process.pid

    def start(self) -> None:
        self._log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self._log_path.open("wb")
        self._process = subprocess.Popen(
            self._argv,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=self._env,
            cwd=self._cwd,
            start_new_session=True,
        )

    def check_alive(self) -> None:
        """Raises with the end of the log if the process has exited."""
        if self._process is None:
            raise DevstackError(f"{self.name} is not started")
        code = self._process.poll()
        if code is not None:
            raise DevstackError(f"{self.name} exited with status {code}:\n{self.log_tail()}")

    def wait_until(self, ready: Callable[[], bool], *, timeout: float, what: str = "ready") -> None:
        """Polls ``ready`` until it holds; fails early if the process dies, late if ``timeout`` passes."""
        deadline = time.monotonic() + timeout
        while True:
            self.check_alive()
            if ready():
                return
            if time.monotonic() > deadline:
                raise DevstackError(f"{self.name} was not {what} after {timeout:.0f} s:\n{self.log_tail()}")
            time.sleep(_POLL_SECONDS)

    def stop(self, grace_seconds: float = 5.0) -> None:
        """SIGTERM by PID, SIGKILL if it lingers; idempotent."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=grace_seconds)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._log is not None:
            self._log.close()
            self._log = None

    def log_tail(self, lines: int = 25) -> str:
        try:
            text = self._log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return os.linesep.join(text.splitlines()[-lines:]) or "(empty log)"
