"""The dev server's log: one thread-safe text stream shared by the server, the pool and the
workers' forwarded output, plus the per-request access line."""

from __future__ import annotations

import sys
import threading
import time
from dataclasses import dataclass
from typing import TextIO


class DevLog:
    """Writes whole lines (never interleaved), each stamped with the wall-clock time."""

    def __init__(self, stream: TextIO | None = None, *, stamp: bool = True) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.stamp = stamp
        self._lock = threading.Lock()

    def line(self, text: str) -> None:
        prefix = time.strftime("%H:%M:%S ") if self.stamp else ""
        out = "".join(f"{prefix}{part}\n" for part in text.splitlines() or [""])
        with self._lock:
            try:
                self.stream.write(out)
                self.stream.flush()
            except (OSError, ValueError):  # the stream was closed under us (shutdown)
                pass


@dataclass(frozen=True, slots=True)
class AccessRecord:
    """What the access line reports about one answered request."""

    method: str
    target: str
    status: int
    cache: str | None
    ttfb: float | None
    total: float
    body_bytes: int
    worker: int | None

    def format(self) -> str:
        ttfb = "-" if self.ttfb is None else f"{self.ttfb * 1000:.1f}ms"
        worker = "-" if self.worker is None else str(self.worker)
        return (
            f"{self.method} {self.target} {self.status} cache={self.cache or '-'} "
            f"ttfb={ttfb} total={self.total * 1000:.1f}ms bytes={self.body_bytes} "
            f"worker={worker}"
        )
