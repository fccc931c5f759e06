"""Every AWS API call calsync makes while the tests run, and which Lambda function's code path made it.

:func:`install` wraps botocore's ``BaseClient._make_api_call`` (the one funnel every boto3 and pynamodb
call goes through) once per test session. Each call is kept as a :class:`Call`: the service and operation,
the parameters that name a resource, the access key that signed it, and the function it belongs to.

A call belongs to a function when the Lambda handler of that function (``functions/<dir>/app.py``, found
through template.yaml's ``CodeUri``), or a calsync callable that handler calls, is on the calling thread's
stack; the outermost one wins (the sweeper's syncs go through the engine, and are the sweeper's). Work a
function hands to a thread pool (the syncs of one change side by side, a backfill's writers) is that
function's too: a job submitted while a function is on the stack carries it into the pool's thread. So a test
that calls ``sweeper.run`` or ``engine.handle_change`` directly is measured as the function whose handler
makes that call; what tests, the local stack and operator tools do outside those code paths is kept with
``function=None``. ``tests/infrastructure/test_least_privilege.py`` compares the calls with the roles of
the translated template.

Credentials handed out by ``sts:AssumeRole`` are remembered with their session tags, so a call signed
with them is known to run in that role session.
"""

from __future__ import annotations

import ast
import importlib
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import CodeType, FrameType, FunctionType
from typing import Any

ROOT = Path(__file__).resolve().parents[2]

# the parameters that say which resource a call touches (and, for PutEvents, its sources)
_RESOURCE_PARAMS = ("TableName", "IndexName", "QueueUrl", "SecretId", "RoleArn", "Name", "EventBusName", "KeyId",
                    "Bucket", "Key")


@dataclass(frozen=True)
class Call:
    function: str | None
    service: str  # the IAM prefix: dynamodb, sqs, events, secretsmanager, sts, ...
    operation: str
    params: tuple[tuple[str, Any], ...]
    access_key: str | None
    test: str | None

    @property
    def action(self) -> str:
        return f"{self.service}:{self.operation}"

    def param(self, name: str) -> Any:
        return dict(self.params).get(name)


@dataclass
class _Recorder:
    calls: list[Call] = field(default_factory=list)
    sessions: dict[str, tuple[str, dict[str, str]]] = field(default_factory=dict)  # access key -> role, tags
    listeners: list[Callable[[Call], None]] = field(default_factory=list)
    entry_points: dict[CodeType, str] = field(default_factory=dict)
    handler_files: dict[str, str] = field(default_factory=dict)
    current_test: str | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)


RECORDER = _Recorder()


def install(functions: dict[str, str]) -> None:
    """Starts recording. ``functions`` maps each function's logical id to its ``CodeUri`` (from the template)."""
    import botocore.client

    base: Any = botocore.client.BaseClient  # _make_api_call is private: not in the stubs
    if getattr(base._make_api_call, "_calsync_recorder", False):
        return
    for function_id, code_uri in functions.items():
        RECORDER.handler_files[str((ROOT / code_uri / "app.py").resolve())] = function_id
    original = base._make_api_call

    def recorded(client: Any, operation_name: str, api_params: dict[str, Any]) -> Any:
        _load_entry_points()
        call = Call(function=_function_on_stack(), service=_iam_prefix(client), operation=operation_name,
                    params=_resource_params(api_params), access_key=_access_key(client),
                    test=RECORDER.current_test)
        with RECORDER.lock:
            RECORDER.calls.append(call)
            listeners = list(RECORDER.listeners)
        for listener in listeners:
            listener(call)
        result = original(client, operation_name, api_params)
        if call.action == "sts:AssumeRole":
            tags = {tag["Key"]: tag["Value"] for tag in api_params.get("Tags", [])}
            with RECORDER.lock:
                RECORDER.sessions[result["Credentials"]["AccessKeyId"]] = (api_params["RoleArn"], tags)
        return result

    recorded._calsync_recorder = True  # type: ignore[attr-defined]
    base._make_api_call = recorded
    _carry_into_threads()


def _load_entry_points() -> None:
    """On first use: importing the handlers earlier would warm them for every test."""
    if not RECORDER.entry_points:
        for handler, function_id in RECORDER.handler_files.items():
            RECORDER.entry_points.update(dict.fromkeys(_entry_points(Path(handler)), function_id))


def calls() -> list[Call]:
    with RECORDER.lock:
        return list(RECORDER.calls)


def assumed(access_key: str | None) -> tuple[str, dict[str, str]] | None:
    """The role ARN and session tags of credentials from ``sts:AssumeRole``; None for any other credentials."""
    with RECORDER.lock:
        return RECORDER.sessions.get(access_key or "")


@contextmanager
def watching(listener: Callable[[Call], None]) -> Iterator[None]:
    """Calls ``listener`` with every AWS call made while the block runs."""
    with RECORDER.lock:
        RECORDER.listeners.append(listener)
    try:
        yield
    finally:
        with RECORDER.lock:
            RECORDER.listeners.remove(listener)


# -- which function ---------------------------------------------------------------------------------------


def _entry_points(handler: Path) -> set[CodeType]:
    """The code of the handler module's own functions and of every calsync callable it calls."""
    module_name = ".".join(handler.relative_to(ROOT).with_suffix("").parts)
    module = importlib.import_module(module_name)
    codes = {value.__code__ for value in vars(module).values()  # not a decorator's wrapper, shared by all handlers
             if isinstance(value, FunctionType) and value.__code__.co_filename == str(handler)}
    for node in ast.walk(ast.parse(handler.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call):
            target = _resolve(module, node.func)
            code = getattr(getattr(target, "__wrapped__", target), "__code__", None)
            if isinstance(code, CodeType) and getattr(target, "__module__", "").startswith("calsync."):
                codes.add(code)
    return codes


def _resolve(module: Any, node: ast.expr) -> Any:
    if isinstance(node, ast.Name):
        return getattr(module, node.id, None)
    if isinstance(node, ast.Attribute):
        owner = _resolve(module, node.value)
        return getattr(owner, node.attr, None) if owner is not None else None
    return None


_carried = threading.local()
"""The function whose job a pool thread is running (``_carry_into_threads``)."""


def _function_on_stack(depth: int = 2) -> str | None:
    found = None
    frame: FrameType | None = sys._getframe(depth)
    while frame is not None:
        code = frame.f_code
        function_id = RECORDER.entry_points.get(code) or RECORDER.handler_files.get(code.co_filename)
        if function_id is not None:
            found = function_id  # keep walking: the outermost one wins
        frame = frame.f_back
    return found or getattr(_carried, "function", None)


def _carry_into_threads() -> None:
    """Wraps ``ThreadPoolExecutor.submit``: a job submitted while a function is on the stack runs, in the
    pool's thread, as that function's."""
    from concurrent.futures import ThreadPoolExecutor

    if getattr(ThreadPoolExecutor.submit, "_calsync_recorder", False):
        return
    original = ThreadPoolExecutor.submit

    def submit(executor: ThreadPoolExecutor, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        _load_entry_points()
        function_id = _function_on_stack()
        if function_id is None:
            return original(executor, fn, *args, **kwargs)

        def as_the_function(*inner_args: Any, **inner_kwargs: Any) -> Any:
            previous = getattr(_carried, "function", None)
            _carried.function = function_id
            try:
                return fn(*inner_args, **inner_kwargs)
            finally:
                _carried.function = previous

        return original(executor, as_the_function, *args, **kwargs)

    submit._calsync_recorder = True  # type: ignore[attr-defined]
    ThreadPoolExecutor.submit = submit  # type: ignore[method-assign,assignment]


# -- what the call touches --------------------------------------------------------------------------------


def _iam_prefix(client: Any) -> str:
    model = client.meta.service_model
    prefix: str = model.metadata.get("signingName") or model.endpoint_prefix
    return prefix


def _access_key(client: Any) -> str | None:
    credentials = getattr(client._request_signer, "_credentials", None)
    return getattr(credentials, "access_key", None) if credentials is not None else None


def _resource_params(api_params: dict[str, Any]) -> tuple[tuple[str, Any], ...]:
    kept: dict[str, Any] = {name: api_params[name] for name in _RESOURCE_PARAMS if name in api_params}
    if "RequestItems" in api_params:  # BatchGetItem / BatchWriteItem
        kept["TableNames"] = tuple(sorted(api_params["RequestItems"]))
    if "Entries" in api_params and any("Source" in entry for entry in api_params["Entries"]):  # PutEvents
        kept["Entries"] = tuple(sorted((entry.get("EventBusName", "default"), entry["Source"])
                                       for entry in api_params["Entries"]))
    if "Delete" in api_params:  # S3 DeleteObjects: the keys it deletes
        kept["Keys"] = tuple(sorted(entry["Key"] for entry in api_params["Delete"].get("Objects", ())))
    if "Tags" in api_params:  # AssumeRole's session tags
        kept["Tags"] = tuple((tag["Key"], tag["Value"]) for tag in api_params["Tags"])
    if "TransactItems" in api_params:
        kept["TableNames"] = tuple(sorted({next(iter(item.values()))["TableName"]
                                           for item in api_params["TransactItems"]}))
    return tuple(sorted(kept.items()))
