"""moto in server mode: Secrets Manager, EventBridge, SQS, CloudWatch and S3 over real HTTP on 127.0.0.1.

It runs as a separate process (``python -m moto.server``) rather than in-process, so calsync code talks
to it exactly as to AWS: through botocore, over a socket, with ``AWS_ENDPOINT_URL`` pointing at it.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from devstack.ports import LOOPBACK, http_answers
from devstack.process import ServerProcess

_READY_TIMEOUT_SECONDS = 60.0


class MotoServer:
    """``python -m moto.server -H 127.0.0.1 -p <port>`` with the interpreter running this code (through
    ``devstack/moto_launch.py``, which gives EventBridge targets the event's ``account`` as AWS does)."""

    name = "moto server"

    def __init__(self, port: int, *, log_dir: Path) -> None:
        self.port = port
        self._process = ServerProcess(
            self.name,
            [sys.executable, str(Path(__file__).with_name("moto_launch.py")), "-H", LOOPBACK, "-p", str(port)],
            log_path=log_dir / "moto.log",
            env=_server_env(),
        )

    @property
    def endpoint(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def launch(self) -> None:
        self._process.start()

    def wait_ready(self, timeout: float = _READY_TIMEOUT_SECONDS) -> None:
        self._process.wait_until(lambda: http_answers(self.port, "/moto-api/"), timeout=timeout, what="answering")

    def check_alive(self) -> None:
        self._process.check_alive()

    def stop(self) -> None:
        self._process.stop()


def _server_env() -> dict[str, str]:
    """The server itself never calls AWS; strip endpoint overrides so it cannot loop back into itself."""
    return {key: value for key, value in os.environ.items() if not key.startswith("AWS_ENDPOINT_URL")}
