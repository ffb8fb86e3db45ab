"""A manual clock for tests and benchmarks.

Test tooling: it is in the wheel but not in the Lambda layer (``layer/build_layer.py``
excludes ``lambda_isr/testing/``). It satisfies :class:`lambda_isr.clock.Clock`.
"""

from __future__ import annotations

import threading


class FakeClock:
    """A manual clock for tests: ``sleep`` advances time instead of blocking."""

    def __init__(self, start: float = 1_000.0) -> None:
        self._now = start
        self._mono = 0.0
        self._lock = threading.Lock()

    def now(self) -> float:
        with self._lock:
            return self._now

    def monotonic(self) -> float:
        with self._lock:
            return self._mono

    def sleep(self, seconds: float) -> None:
        self.advance(max(seconds, 0.0))

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += seconds
            self._mono += seconds

    def set(self, now: float) -> None:
        with self._lock:
            self._now = now
