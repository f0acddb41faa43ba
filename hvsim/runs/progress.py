"""Progress of many runs: done/total with an ETA from the runs computed so far."""

from __future__ import annotations

import sys
import time
from typing import TextIO


def _clock(seconds: float) -> str:
    s = int(round(seconds))
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


class ProgressBar:
    """done/total with an ETA from the runs computed so far. On a terminal one line
    redrawn in place; elsewhere (logs, notebooks) a line at most every 10 s."""

    def __init__(
        self,
        total: int,
        stored: int = 0,
        stream: TextIO | None = None,
        enabled: bool | None = None,
        label: str = "runs",
    ):
        self.stream = stream if stream is not None else sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.enabled = self.tty if enabled is None else enabled
        self.total, self.stored, self.label = total, stored, label
        self.computed = self.failed = 0
        self.started = self.last = time.monotonic()
        self.shown = False

    @property
    def done(self) -> int:
        return self.stored + self.computed + self.failed

    def text(self) -> str:
        done, todo = self.done, self.total - self.stored
        width = 24
        filled = int(width * done / self.total) if self.total else width
        elapsed = time.monotonic() - self.started
        ran = self.computed + self.failed
        eta = _clock(elapsed / ran * (todo - ran)) if ran else "--"
        extra = f", {self.stored} stored" if self.stored else ""
        extra += f", {self.failed} failed" if self.failed else ""
        return (
            f"{self.label} [{'#' * filled}{'.' * (width - filled)}] {done}/{self.total}"
            f"{extra}, elapsed {_clock(elapsed)}, ETA {eta}"
        )

    def update(self, failed: bool = False) -> None:
        if failed:
            self.failed += 1
        else:
            self.computed += 1
        self.draw()

    def draw(self, force: bool = False) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if self.tty:
            print("\r" + self.text(), end="", file=self.stream, flush=True)
            self.shown = True
        elif force or self.done == self.total or now - self.last >= 10.0:
            print(self.text(), file=self.stream, flush=True)
            self.last = now

    def message(self, text: str) -> None:
        """A line that must not be overwritten by the bar (a failed run)."""
        if self.tty and self.shown:
            print("\r\033[K", end="", file=self.stream)
        print(text, file=self.stream, flush=True)
        if self.enabled and self.tty:
            self.draw()

    def close(self) -> None:
        if self.enabled and self.tty and self.shown:
            print(file=self.stream, flush=True)
