"""What a run tells the person waiting for it, on stderr (stdout keeps the summary scripts parse).

On a terminal a bar (tqdm) that the run clears when it ends; otherwise one line per step as the
step starts, `verifier: [3/12] record-level checks (12.4 s)`, with the run's elapsed seconds.

Exit 2 prints exactly one line on stderr (contract section 3), and an unreadable record file is
only found while the records are staged. So the lines are held until the pipeline says the
inputs are read (`inputs_read`): a run that fails before prints its one error line alone; after
it they are printed at once, each with the time its step started, then as the steps start."""

from __future__ import annotations

import sys
import threading
import time
from typing import Callable, TextIO

TICK_S = 1.0  # the bar redraws (its elapsed time) at least this often
PREFIX = "verifier: "  # every progress line starts with it; an error line starts with "error: "


class Progress:
    """`progress(name)` as each of `total` steps starts; `inputs_read()` once no exit 2 can
    follow; `close()` when the run ends (clears the bar; drops lines still held)."""

    def __init__(self, total: int, stream: TextIO | None = None, quiet: bool = False,
                 started: float | None = None, clock: Callable[[], float] = time.monotonic):
        self.total = total
        self.stream = stream or sys.stderr
        self.quiet = quiet
        self.clock = clock
        self.started = clock() if started is None else started  # on `clock`'s scale
        self.count = 0
        self.held: list[str] | None = []  # None once the lines go out as they come
        self.bar = None if quiet or not _isatty(self.stream) else _bar(total, self.stream)
        self._stop = threading.Event()
        self._ticker = None
        if self.bar is not None:  # the bar's clock keeps ticking through a long step
            self._ticker = threading.Thread(target=self._tick, name="verifier-progress", daemon=True)
            self._ticker.start()

    def __call__(self, name: str) -> None:
        self.count += 1
        if self.bar is not None:
            if self.count > 1:
                self.bar.update(1)  # the previous step is done
            self.bar.set_description_str(name)
        elif not self.quiet:
            self._line(f"{PREFIX}[{self.count}/{self.total}] {name} ({self.clock() - self.started:.1f} s)")

    def inputs_read(self) -> None:
        held, self.held = self.held, None
        for line in held or ():
            self._write(line)

    def close(self) -> None:
        self.held = None
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join()
            self._ticker = None
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def _tick(self) -> None:
        while not self._stop.wait(TICK_S):
            bar = self.bar
            if bar is not None:
                bar.refresh()

    def _line(self, line: str) -> None:
        if self.held is not None:
            self.held.append(line)
        else:
            self._write(line)

    def _write(self, line: str) -> None:
        self.stream.write(line + "\n")
        self.stream.flush()


def _isatty(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # a closed or unusual stream: no terminal
        return False


def _bar(total: int, stream):
    from tqdm import tqdm

    return tqdm(total=total, file=stream, leave=False, bar_format="{desc:<32} {bar} {n}/{total} {elapsed}")
