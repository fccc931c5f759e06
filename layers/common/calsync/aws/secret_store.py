"""Credentials in Secrets Manager, cached in memory so a warm invocation makes no Secrets Manager call.

Writes go through ``calsync.oauth.token_secret`` (a compare-and-swap on version stages).

One secret per integration (JSON object). Values never reach a log line or an exception message.
"""

from __future__ import annotations

import json
import threading
import time
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from calsync.core.errors import ConfigurationError

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient

_lock = threading.Lock()
_cache: dict[str, tuple[float, dict[str, Any]]] = {}


@lru_cache(maxsize=1)
def client() -> SecretsManagerClient:
    import boto3  # imported lazily: boto3 costs ~150 ms of cold start

    return boto3.client("secretsmanager")


def read(secret_ref: str, max_age_seconds: float) -> dict[str, Any]:
    """The secret's JSON value, from memory when younger than ``max_age_seconds``."""
    now = time.monotonic()
    with _lock:
        cached = _cache.get(secret_ref)
        if cached is not None and now - cached[0] < max_age_seconds:
            return cached[1]
    try:
        raw = client().get_secret_value(SecretId=secret_ref, VersionStage="AWSCURRENT")["SecretString"]
        value = json.loads(raw)
    except (KeyError, ValueError):
        raise ConfigurationError("secret is not a JSON object") from None
    if not isinstance(value, dict):
        raise ConfigurationError("secret is not a JSON object")
    with _lock:
        _cache[secret_ref] = (now, value)
    return value


def forget(secret_ref: str | None = None) -> None:
    """Drops cached values (all of them without an argument)."""
    with _lock:
        if secret_ref is None:
            _cache.clear()
        else:
            _cache.pop(secret_ref, None)
