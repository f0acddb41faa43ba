"""Progress on stderr: done/total, elapsed time and an ETA from the rate so far.

On a terminal tqdm draws one line and redraws it in place; a message (a failed
run, a capped worker count) is printed above it, never overwritten. Elsewhere (a
log, a CI job) the same text is a line at most every LINE_EVERY_S seconds, so a
log gets a few lines and not thousands.
"""

from __future__ import annotations

import functools
import sys
import time
from collections.abc import Callable
from typing import Any, TextIO

# Off a terminal: at most one line every this many seconds.
LINE_EVERY_S = 10.0
# Tick marks of the bar on a terminal and in lines: '.' still to do, '#' done.
BAR_CHARS = ".#"
RUNS_FORMAT = "{desc} [{bar:24}] {n_fmt}/{total_fmt}{postfix}, elapsed {elapsed}, ETA {remaining}"
# A single run: on a terminal shown once it has taken TTY_AFTER_S, redrawn at most
# every TTY_REDRAW_S; off a terminal the first line comes after LINE_EVERY_S, so a
# short run prints nothing.
DAY_FORMAT = "simulated day {n:.0f}/{total:g}, elapsed {elapsed}, ETA {remaining}"
TTY_AFTER_S = 1.0
TTY_REDRAW_S = 0.2


def _isatty(stream: Any) -> bool:
    return bool(getattr(stream, "isatty", lambda: False)())


class Progress:
    """``n`` of ``total`` done (``initial`` of them before it started, e.g. runs taken
    from the store: the rate counts the others). ``enabled`` None: on a terminal
    only; ``first_line``: off a terminal, a line at the start too."""

    def __init__(
        self,
        total: float,
        bar_format: str,
        *,
        label: str = "",
        stream: TextIO | None = None,
        enabled: bool | None = None,
        tty: bool | None = None,
        initial: float = 0,
        postfix: str = "",
        delay_s: float = 0.0,
        redraw_s: float = 0.1,
        first_line: bool = True,
        clock: Callable[[], float] | None = None,
    ):
        from tqdm import tqdm

        self._tqdm = tqdm
        self.stream = stream if stream is not None else sys.stderr
        self.tty = _isatty(self.stream) if tty is None else tty
        self.enabled = self.tty if enabled is None else enabled
        self.total, self.initial, self.n = total, initial, initial
        self.bar_format, self.label, self.postfix = bar_format, label, postfix
        self.first_line = first_line
        self.clock = clock or time.monotonic
        self.started = self.last = self.clock()
        self.printed = False
        self.closed = False
        self._bar: Any = None
        if self.enabled and self.tty:
            self._bar = _bar_type()(
                total=total,
                initial=initial,
                desc=label,
                postfix=postfix or None,
                file=self.stream,
                bar_format=bar_format,
                ascii=BAR_CHARS,
                delay=delay_s,
                mininterval=redraw_s,
                smoothing=0,  # ETA from the average rate since the start
                leave=True,
            )

    def start(self) -> None:
        """Off a terminal: the first line (with ``first_line``)."""
        if self.enabled and not self.tty and self.first_line:
            self._line()

    def set(self, n: float, postfix: str = "") -> None:
        """``n`` done (and the ``postfix`` words after the count)."""
        if self.closed:
            return
        if self._bar is not None:
            if postfix != self.postfix:
                self._bar.set_postfix_str(postfix, refresh=False)
            self._bar.update(n - self.n)
        self.n, self.postfix = n, postfix
        if self.enabled and not self.tty:
            now = self.clock()
            done = self.n >= self.total
            if now - self.last >= LINE_EVERY_S or (done and self.printed):
                self._line(now)

    def message(self, text: str) -> None:
        """A line that must not be overwritten by the bar (shown even without a bar)."""
        if self._bar is not None:
            self._tqdm.write(text, file=self.stream)
        else:
            print(text, file=self.stream, flush=True)

    def close(self) -> None:
        if self._bar is not None and not self.closed:
            self._bar.close()
        self.closed = True

    def text(self, elapsed_s: float) -> str:
        return self._tqdm.format_meter(
            self.n,
            self.total,
            elapsed_s,
            prefix=self.label,
            ascii=BAR_CHARS,
            bar_format=self.bar_format,
            postfix=self.postfix,
            initial=self.initial,
        )

    def _line(self, now: float | None = None) -> None:
        now = self.clock() if now is None else now
        print(self.text(now - self.started), file=self.stream, flush=True)
        self.last, self.printed = now, True


@functools.cache
def _bar_type() -> type:
    from tqdm import tqdm

    class Bar(tqdm):
        # No monitor thread: every redraw comes from an update of this process.
        monitor_interval = 0

    return Bar


class RunsProgress:
    """Runs done of ``total``, ``stored`` of them taken from the store: with the
    counts of stored and failed runs, and an ETA from the runs computed so far."""

    def __init__(
        self,
        total: int,
        stored: int = 0,
        stream: TextIO | None = None,
        enabled: bool | None = None,
        label: str = "runs",
    ):
        self.stored, self.computed, self.failed = stored, 0, 0
        self.bar = Progress(
            total,
            RUNS_FORMAT,
            label=label,
            stream=stream,
            enabled=enabled,
            initial=stored,
            postfix=self._postfix(),
        )

    @property
    def done(self) -> int:
        return self.stored + self.computed + self.failed

    def _postfix(self) -> str:
        parts = [f"{self.stored} stored"] if self.stored else []
        return ", ".join(parts + ([f"{self.failed} failed"] if self.failed else []))

    def start(self, todo: int) -> None:
        if todo:
            self.bar.start()

    def update(self, failed: bool = False) -> None:
        if failed:
            self.failed += 1
        else:
            self.computed += 1
        self.bar.set(self.done, self._postfix())

    def message(self, text: str) -> None:
        self.bar.message(text)

    def close(self) -> None:
        self.bar.close()


def day_progress(
    horizon_days: float,
    stream: TextIO | None = None,
    tty: bool | None = None,
    clock: Callable[[], float] | None = None,
    show_after_s: float = TTY_AFTER_S,
    redraw_s: float = TTY_REDRAW_S,
) -> Callable[[float], None]:
    """The ``progress`` callback of ``hvsim.simulate`` (called with the simulated day):
    "simulated day X/Y, elapsed, ETA", the ETA from the simulated days per wall
    second so far (the run's last jobs, tables and report come after it). Shown
    on a terminal or not; on a terminal once the run has taken ``show_after_s``,
    redrawn at most every ``redraw_s``."""
    bar = Progress(
        horizon_days,
        DAY_FORMAT,
        stream=stream,
        enabled=True,
        tty=tty,
        delay_s=show_after_s,
        redraw_s=redraw_s,
        first_line=False,
        clock=clock,
    )

    def show(day: float) -> None:
        bar.set(day)
        if day >= horizon_days:
            bar.close()

    return show
