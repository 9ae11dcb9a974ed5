"""Rate-limited progress reports from a long kernel call back to TypeScript (for progress bars)."""
from __future__ import annotations

import time
from typing import Callable, Optional

ProgressSink = Callable[[dict], None]


class Progress:
    """Reports `done` out of `total` units of one named stage, at most once per `min_interval` seconds.

    The first and the final update always go out, so a bar starts and ends exactly.
    """

    def __init__(self, sink: Optional[ProgressSink], stage: str, total: int, min_interval: float = 0.2):
        self.sink = sink
        self.stage = stage
        self.total = int(total)
        self.min_interval = min_interval
        self._last = float("-inf")

    def update(self, done: int, **extra: float) -> None:
        if self.sink is None:
            return
        now = time.monotonic()
        if done < self.total and now - self._last < self.min_interval:
            return
        self._last = now
        self.sink({"stage": self.stage, "done": int(done), "total": self.total, **extra})
