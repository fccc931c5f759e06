"""What every operator command shares: the deployment it acts on (resolved once, from the global options),
the terminal (Rich), errors shown as one line rather than a traceback, and long work that stops cleanly on
Ctrl-C (the first one finishes the item in hand and stores where it stopped; a second one stops at once).
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from calsync.cli.target import Target, resolve
from calsync.core.errors import CalSyncError

console = Console(highlight=False, soft_wrap=True)
errors = Console(stderr=True, highlight=False)
STATUS_STYLES = {"active": "green", "pending": "cyan", "paused": "yellow", "error": "bold red",
                 "disconnected": "dim", "synced": "green", "removed": "dim", "retry": "yellow", "parked": "red",
                 "dead": "bold red"}


@dataclass
class Options:
    """The global options (``calsync --stack ... COMMAND``); the target is resolved on first use."""

    stack: str | None = None
    profile: str | None = None
    region: str | None = None
    env_file: Path | None = None
    _target: Target | None = field(default=None, repr=False)

    def target(self) -> Target:
        if self._target is None:
            self._target = resolve(self.stack, self.profile, self.region, self.env_file)
            self._target.apply()
        return self._target


def connect(ctx: typer.Context) -> Target:
    """The deployment this command acts on, with calsync pointed at it."""
    options = ctx.find_object(Options)
    if options is None:  # pragma: no cover - the root callback always sets it
        options = ctx.ensure_object(Options)
    return options.target()


def guarded[**P, R](command: Callable[P, R]) -> Callable[P, R]:
    """Shows calsync's own errors (and invalid values) as one line and exits 1, instead of a traceback."""

    @functools.wraps(command)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except (CalSyncError, ValueError) as error:
            errors.print(f"[red]error:[/red] {error}")
            raise typer.Exit(1) from None

    return run


class Stop:
    """Set by Ctrl-C while :func:`interruptible` is active."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def __call__(self) -> bool:
        return self._event.is_set()

    def set(self) -> None:
        self._event.set()


@contextmanager
def interruptible() -> Iterator[Stop]:
    """The first Ctrl-C asks the work to stop after the item in hand (its place is stored); the second
    interrupts at once. Outside the main thread (nothing to catch) the work simply runs."""
    stop = Stop()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return

    def handle(signum: int, frame: FrameType | None) -> None:
        if stop():
            raise KeyboardInterrupt
        stop.set()
        errors.print("[yellow]stopping after the item in hand (Ctrl-C again to stop at once)[/yellow]")

    previous = signal.signal(signal.SIGINT, handle)
    try:
        yield stop
    finally:
        signal.signal(signal.SIGINT, previous)


def progress() -> Progress:
    return Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), console=console, transient=False)


def when(moment: dt.datetime | None, now: dt.datetime | None = None) -> str:
    """A moment as an operator reads it: UTC, to the second, with how long ago."""
    if moment is None:
        return "-"
    seconds = int(((now or dt.datetime.now(dt.UTC)) - moment).total_seconds())
    ago = (f"{seconds}s" if abs(seconds) < 120 else f"{seconds // 60}m" if abs(seconds) < 7200
           else f"{seconds // 3600}h" if abs(seconds) < 172800 else f"{seconds // 86400}d")
    suffix = f"{ago} ago" if seconds >= 0 else f"in {ago.lstrip('-')}"
    return f"{moment.astimezone(dt.UTC):%Y-%m-%d %H:%M:%S} ({suffix})"


def styled(value: str | None) -> str:
    if value is None:
        return "-"
    style = STATUS_STYLES.get(value)
    return f"[{style}]{value}[/{style}]" if style else value


def print_json(value: Any) -> None:
    """Machine-readable output (``--json``): plain JSON on standard output, nothing else."""
    typer.echo(json.dumps(value, indent=2, default=str))
