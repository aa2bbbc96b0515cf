"""Progress lines for long jobs: a counter with its rate and ETA.

One class serves every long job (TFRecords, the demo data, the bank
encoding, the warm-up and training loops)::

    progress = Progress("train", total=16_000, unit="examples")
    for step in ...:
        progress.update(32, note=f"L_r {loss:.4f}")   # printed at most every 5 s
    progress.close()

prints lines such as::

    [train] 3,200/16,000 examples  71.3/s  ETA 00:02:59  L_r 0.8123
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable


def format_eta(seconds: float) -> str:
    """``HH:MM:SS``, or ``?`` when unknown."""
    if seconds is None or math.isnan(seconds) or math.isinf(seconds) or seconds < 0:
        return "?"
    return time.strftime("%H:%M:%S", time.gmtime(seconds))


class Progress:
    """A counter with rate and ETA, printed at most every ``every_s`` seconds.

    Args:
      label: what is counted, e.g. ``"train"`` or ``"val: lines"``.
      total: the count at the end, for the ETA (None: unknown).
      unit: the counted things, e.g. ``"examples"``.
      every_s: least seconds between two printed lines; 0 prints every call.
      enabled: False prints nothing.
      write: where lines go (default: stderr).
      start: the count already done (a resumed job); the rate counts only
        what this process did.

    The rate is over the interval since the previous printed line; ``close``
    prints the overall rate.
    """

    def __init__(
        self,
        label: str,
        total: int | None = None,
        unit: str = "",
        every_s: float = 5.0,
        enabled: bool = True,
        write: Callable[[str], None] | None = None,
        start: int = 0,
    ):
        self.label, self.total, self.unit = label, total, unit
        self.every_s, self.enabled = float(every_s), enabled
        self.write = write or (lambda line: print(line, file=sys.stderr, flush=True))
        self.done = self._first = self._last_done = int(start)
        self.last_rate = 0.0  # count per second over the last printed interval
        self._start = self._last_time = time.monotonic()

    def update(self, n: int = 1, note: str = "", force: bool = False) -> None:
        """Adds ``n`` to the count."""
        self.set(self.done + n, note, force)

    def set(self, done: int, note: str = "", force: bool = False) -> None:
        """Sets the count; prints when ``every_s`` has passed (or ``force``)."""
        self.done = int(done)
        now = time.monotonic()
        if self.enabled and (force or now - self._last_time >= self.every_s):
            self.last_rate = (self.done - self._last_done) / max(now - self._last_time, 1e-9)
            self._last_done, self._last_time = self.done, now
            self.write(self.line(self.last_rate, note))

    def rate(self) -> float:
        """Overall count per second of this process."""
        return (self.done - self._first) / max(time.monotonic() - self._start, 1e-9)

    def line(self, rate: float, note: str = "") -> str:
        total = f"/{self.total:,}" if self.total else ""
        unit = f" {self.unit}" if self.unit else ""
        # Slow jobs (e.g. whole training runs) read better per hour.
        speed = f"{rate:,.1f}/s" if rate >= 0.1 or rate == 0 else f"{rate * 3600:,.1f}/h"
        text = f"[{self.label}] {self.done:,}{total}{unit}  {speed}"
        if self.total:
            remaining = (self.total - self.done) / rate if rate > 0 else float("nan")
            text += f"  ETA {format_eta(remaining)}"
        return text + (f"  {note}" if note else "")

    def close(self, note: str = "") -> None:
        """Prints the final line with the overall rate and elapsed time."""
        if self.enabled:
            elapsed = time.monotonic() - self._start
            self.write(f"{self.line(self.rate(), note)}  ({elapsed:.1f}s)")
