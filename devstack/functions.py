"""The template's functions, as the local deployment runs them: in-process, one invocation at a time each.

Each :class:`LocalFunction` imports its handler lazily from the module path template.yaml gives it
(``CodeUri`` + ``Handler``: ``functions/feed/`` + ``app.lambda_handler``), after the stack's environment is
in place, since calsync reads its settings on import. A lock per function plays the part of one warm
execution environment: Lambda never hands one environment two invocations at once. Every caller (the
queue runner, the local HTTP API, the schedule, the invoke endpoint) goes through :meth:`LocalFunction.__call__`
or :meth:`LocalFunction.invoke`. What an invocation writes goes to the function's log group
(``devstack.function_logs``), followed by a platform report of its duration and outcome.
"""

from __future__ import annotations

import importlib
import threading
import time
from collections.abc import Callable
from typing import Any

from devstack.blueprint import FunctionSpec
from devstack.function_logs import LogGroups
from devstack.lambda_runner import FakeLambdaContext, Handler

Wrapper = Callable[[str, Handler], Handler]
"""(logical id, handler) → the handler to run instead (the demo captures log lines this way)."""


class LocalFunction:
    def __init__(self, spec: FunctionSpec, *, region: str, account_id: str, wrapper: Wrapper | None = None,
                 handler: Handler | None = None, logs: LogGroups | None = None) -> None:
        self.spec = spec
        self.logs = logs
        self.arn = f"arn:aws:lambda:{region}:{account_id}:function:{spec.name}"
        self._wrapper = wrapper
        self._handler = handler
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return self.spec.name

    def handler(self) -> Handler:
        """The handler, imported on first use (a broken import raises here, naming the module)."""
        if self._handler is None:
            module_name, _, attribute = self.spec.handler_path.partition(":")
            loaded: Handler = getattr(importlib.import_module(module_name), attribute)
            self._handler = self._wrapper(self.spec.logical_id, loaded) if self._wrapper else loaded
        return self._handler

    def context(self) -> FakeLambdaContext:
        return FakeLambdaContext(function_name=self.spec.name, memory_limit_in_mb=self.spec.memory_mb,
                                 invoked_function_arn=self.arn, timeout_seconds=self.spec.timeout_seconds)

    def __call__(self, event: dict[str, Any], context: Any) -> Any:
        handler = self.handler()
        with self._lock:
            if self.logs is None:
                return handler(event, context)
            started, error = time.perf_counter(), None
            try:
                with self.logs.capture(self.spec.log_group):
                    return handler(event, context)
            except Exception as raised:
                error = type(raised).__name__
                raise
            finally:
                self.logs.report(self.spec.log_group, str(getattr(context, "aws_request_id", "")),
                                 (time.perf_counter() - started) * 1000, error)

    def invoke(self, event: dict[str, Any]) -> Any:
        """One invocation with a fresh context (the HTTP API, the schedule, the invoke endpoint)."""
        return self(event, self.context())
