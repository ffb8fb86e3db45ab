"""Injected clocks: the ISR algorithm and the stores never read the system time directly.

The manual test clock is ``lambda_isr.testing.FakeClock`` (test tooling, not in the layer).
"""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    """Wall-clock time in epoch seconds, a monotonic clock, and sleep."""

    def now(self) -> float:
        """Epoch seconds (float)."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back."""
        ...

    def sleep(self, seconds: float) -> None:
        """Block for ``seconds``."""
        ...


class SystemClock:
    """The real clock."""

    def now(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)


SYSTEM_CLOCK = SystemClock()
