"""Showing a pull's progress: a rich bar on a terminal, a line per 10 % otherwise."""

from __future__ import annotations

from typing import Protocol, TextIO

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)


def human_size(size: int) -> str:
    """``41205931`` -> ``41.2 MB``."""
    for unit, scale in (("GB", 10**9), ("MB", 10**6), ("kB", 10**3)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{size} B"


class PullProgress(Protocol):
    """Receives a pull's progress, one model at a time."""

    def begin(self, label: str, total: int, done: int) -> None:
        """A model's download starts (``done`` > 0 when it resumes)."""

    def update(self, done: int) -> None:
        """Bytes of the current model downloaded so far (may go back after a restart)."""

    def note(self, text: str) -> None:
        """A line for the operator (a retry, a wait for another pull)."""

    def end(self) -> None:
        """The current model's download is over, whatever the outcome."""


class PlainProgress:
    """One line each time another 10 % is done: readable in logs and pipes."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._label = ""
        self._total = 0
        self._shown = -1

    def begin(self, label: str, total: int, done: int) -> None:
        """Say what is downloaded and how much."""
        self._label, self._total = label, total
        self._shown = self._tenth(done)
        if done:
            self._write(f"{label}: resuming at {human_size(done)} of {human_size(total)}")
        else:
            self._write(f"{label}: downloading {human_size(total)}")

    def update(self, done: int) -> None:
        """Write a line when another tenth is reached."""
        tenth = self._tenth(done)
        if tenth > self._shown:
            self._shown = tenth
            self._write(f"{self._label}: {tenth * 10}% ({human_size(done)} of "
                        f"{human_size(self._total)})")
        elif tenth < self._shown:
            self._shown = tenth  # the server made us start over

    def note(self, text: str) -> None:
        """Write the line."""
        self._write(text)

    def end(self) -> None:
        """Nothing to close."""

    def _tenth(self, done: int) -> int:
        return min(10, done * 10 // self._total) if self._total else 10

    def _write(self, line: str) -> None:
        self._stream.write(line + "\n")
        self._stream.flush()


class RichProgress:
    """A live bar with size, speed and time left; one bar per model, left on screen."""

    def __init__(self, stream: TextIO) -> None:
        self._console = Console(file=stream)
        self._progress: Progress | None = None
        self._task: TaskID | None = None

    def begin(self, label: str, total: int, done: int) -> None:
        """Start a bar."""
        # A fresh Progress per model: a restarted one would draw the finished bars again.
        self._progress = Progress(
            TextColumn("{task.description}"), BarColumn(), DownloadColumn(),
            TransferSpeedColumn(), TimeRemainingColumn(), console=self._console)
        self._progress.start()
        self._task = self._progress.add_task(label, total=total, completed=done)

    def update(self, done: int) -> None:
        """Move the bar."""
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, completed=done)

    def note(self, text: str) -> None:
        """Print (above the bar while one is shown)."""
        self._console.print(text, markup=False, highlight=False)

    def end(self) -> None:
        """Stop the bar, leaving it on screen."""
        if self._progress is not None:
            self._progress.stop()
        self._progress = self._task = None


def progress_for(stream: TextIO) -> PullProgress:
    """A bar when ``stream`` is a terminal, plain lines otherwise."""
    isatty = getattr(stream, "isatty", None)
    if isatty is not None and isatty():
        return RichProgress(stream)
    return PlainProgress(stream)
