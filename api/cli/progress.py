"""Progress display for long commands: one line per stage, with elapsed time."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

__all__ = ["console", "stages"]

console = Console(stderr=True)
if not console.is_terminal:  # logs and CI: wide enough that tables of reasons do not wrap
    console.width = 160


@contextmanager
def stages(title: str) -> Iterator[Callable[[str], None]]:
    """Yields ``step(message)``: each call closes the previous stage and opens the next."""
    with Progress(
        SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=console, transient=False
    ) as progress:
        current: list[tuple[int, float]] = []

        def step(message: str) -> None:
            if current:
                task, _ = current.pop()
                progress.update(task, completed=1, total=1)
            current.append((progress.add_task(f"{title}: {message}", total=None), time.perf_counter()))

        yield step
        if current:
            progress.update(current[0][0], completed=1, total=1)
