"""What a step of the connect page answers, before it becomes an HTTP response: a page to render, a
redirect, or a static asset. Cookies to set ride along; the handler only translates."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Page:
    template: str
    context: dict[str, Any] = field(default_factory=dict)
    status: int = 200
    cookie: str | None = None  # a whole Set-Cookie value


@dataclass(frozen=True)
class Redirect:
    location: str
    cookie: str | None = None
    status: int = 303


@dataclass(frozen=True)
class Asset:
    body: str
    content_type: str
