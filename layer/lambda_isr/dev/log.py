"""The dev server's log: one thread-safe text stream shared by the server, the pool and the
workers' forwarded output, plus the per-request access line."""

from __future__ import annotations

import json
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


_SUMMARY_MESSAGE = "lambda-isr request"


def compact_worker_line(line: str) -> str | None:
    """A worker's output line as the dev log shows it.

    Powertools JSON log lines become ``LEVEL message`` (plus the exception's last line, then
    its whole traceback, indented, on the following lines), EMF metric lines and lambda-isr's
    per-request summary (the access line says the same) are dropped, anything else (prints,
    tracebacks, text logs) is kept as it is.
    """
    stripped = line.strip()
    if not stripped.startswith("{"):
        return line
    try:
        record = json.loads(stripped)
    except ValueError:
        return line
    if not isinstance(record, dict):
        return line
    if "_aws" in record:
        return None
    message, level = record.get("message"), record.get("level")
    if not isinstance(message, str) or not isinstance(level, str):
        return line
    if message == _SUMMARY_MESSAGE and level == "INFO":
        return None
    text = f"{level} {message}"
    exception = record.get("exception")
    if isinstance(exception, str) and exception.strip():
        lines = exception.strip().splitlines()
        text += f" | {lines[-1]}" + "".join(f"\n    {line}" for line in lines)
    return text
