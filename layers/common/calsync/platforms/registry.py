"""Which platforms exist: every public module of ``calsync.platforms.adapters`` that defines ``PLATFORM``.

Adding a platform is adding one module there (and its tests); nothing else names it. Modules are imported
on first use, so a webhook for one platform loads only that platform's adapter.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from functools import lru_cache

from calsync.platforms import adapters
from calsync.platforms.base import Platform

_NAME = re.compile(r"^[a-z][a-z0-9_]{1,31}$")


@lru_cache(maxsize=1)
def names() -> tuple[str, ...]:
    """Every platform's name (its module's name), sorted."""
    return tuple(sorted(info.name for info in pkgutil.iter_modules(adapters.__path__)
                        if not info.name.startswith("_")))


@lru_cache(maxsize=64)
def get(name: str) -> Platform | None:
    """The adapter for ``name`` (a path segment of a webhook URL, so anything); None if there is none."""
    if not _NAME.match(name) or name not in names():
        return None
    platform = getattr(importlib.import_module(f"{adapters.__name__}.{name}"), "PLATFORM", None)
    return platform if isinstance(platform, Platform) else None


def all_platforms() -> list[Platform]:
    return [platform for name in names() if (platform := get(name)) is not None]
