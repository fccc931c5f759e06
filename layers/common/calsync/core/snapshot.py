"""What must be made anew when Lambda SnapStart resumes a snapshot (template.yaml turns it on for the change
worker, the sweeper and the feed).

With SnapStart, Lambda runs a function's init once, when a version is published, and every execution
environment of that version then starts from a copy of that memory. Anything the init made that must differ
between environments would be the same in all of them: the engine's lease-owner id (two environments
holding "one" lease at once), the seed of ``random`` (every environment would draw the same retry jitter),
connections opened at init (dead after a restore). Each module that makes such a value registers a hook here
(:func:`after_restore`); the runtime calls :func:`restored` when it resumes an environment. Calling
:func:`restored` is also how the tests simulate a restore.

The init opens no connection on purpose: it creates clients (botocore, httpx) but sends nothing, and the
pooled HTTP clients are replaced after a restore all the same. AWS credentials are not a concern: in a
SnapStart environment they come from the container credentials endpoint, which botocore refreshes.
"""

from __future__ import annotations

import os
import random
import threading
from collections.abc import Callable

INITIALIZATION_TYPE = "AWS_LAMBDA_INITIALIZATION_TYPE"
"""Lambda's own variable: ``snap-start`` while the init that a snapshot will capture runs."""

_hooks: list[Callable[[], None]] = []
_lock = threading.Lock()


def capturing() -> bool:
    """Whether this init is the one a SnapStart snapshot captures (so warming everything costs no request)."""
    return os.environ.get(INITIALIZATION_TYPE) == "snap-start"


def after_restore[F: Callable[[], None]](hook: F) -> F:
    """Registers ``hook`` to run when an execution environment is resumed from a snapshot (and returns it,
    so it can decorate)."""
    with _lock:
        if hook not in _hooks:
            _hooks.append(hook)
    return hook


def restored() -> None:
    """Runs every hook, in the order they were registered: what SnapStart's runtime calls after a restore."""
    with _lock:
        hooks = list(_hooks)
    for hook in hooks:
        hook()


@after_restore
def _reseed() -> None:
    """``random``'s global generator (the retry jitter) was seeded at init: the same in every copy."""
    random.seed()


def _register_with_the_runtime() -> None:
    """The Python managed runtime ships ``snapshot_restore_py`` (nowhere else is it needed)."""
    try:
        from snapshot_restore_py import register_after_restore  # type: ignore[import-not-found]
    except ImportError:
        return
    register_after_restore(restored)


_register_with_the_runtime()
