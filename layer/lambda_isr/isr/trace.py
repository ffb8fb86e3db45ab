"""Per-request bookkeeping the engine fills in: state, key, timings, counters, spans.

Observability (:mod:`lambda_isr.observability`) turns it into one summary log line, metrics
and trace subsegments; the engine itself knows nothing about Powertools.
"""

from __future__ import annotations

import contextlib
import logging
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import Any, Protocol

from lambda_isr.clock import Clock
from lambda_isr.isr.states import CacheState


class LogLike(Protocol):
    def debug(self, msg: object, *args: Any, **kwargs: Any) -> None: ...
    def info(self, msg: object, *args: Any, **kwargs: Any) -> None: ...
    def warning(self, msg: object, *args: Any, **kwargs: Any) -> None: ...
    def error(self, msg: object, *args: Any, **kwargs: Any) -> None: ...
    def exception(self, msg: object, *args: Any, **kwargs: Any) -> None: ...


SpanFactory = Callable[[str], AbstractContextManager[Any]]


def _no_span(_name: str) -> AbstractContextManager[Any]:
    return contextlib.nullcontext()


class RequestTrace:
    """Mutable per-request accumulator (one per request, one thread writes it)."""

    def __init__(
        self,
        clock: Clock,
        log: LogLike | None = None,
        span: SpanFactory = _no_span,
    ) -> None:
        self.clock = clock
        self.log: LogLike = log or logging.getLogger("lambda_isr")
        self._span = span
        self.started = clock.monotonic()
        self.state: CacheState | None = None
        self.status: int | None = None
        self.cache_key: str | None = None
        self.detail: str | None = None
        self.timings_ms: dict[str, float] = {}
        self.counters: Counter[str] = Counter()
        self.bytes_sent = 0
        self.stored = False

    def elapsed_ms(self) -> float:
        return round((self.clock.monotonic() - self.started) * 1000.0, 3)

    def mark(self, name: str) -> None:
        """Record ``name`` as milliseconds since the request started (first mark wins)."""
        self.timings_ms.setdefault(name, self.elapsed_ms())

    @contextlib.contextmanager
    def timed(self, name: str) -> Iterator[None]:
        """Time a block (milliseconds, accumulated) inside a trace subsegment ``name``."""
        start = self.clock.monotonic()
        try:
            with self._span(name):
                yield
        finally:
            spent = (self.clock.monotonic() - start) * 1000.0
            self.timings_ms[f"{name}_ms"] = round(self.timings_ms.get(f"{name}_ms", 0.0) + spent, 3)

    def count(self, name: str, n: int = 1) -> None:
        self.counters[name] += n

    def summary(self) -> dict[str, Any]:
        return {
            "cache_state": self.state.value if self.state else None,
            "status": self.status,
            "cache_key": self.cache_key,
            "detail": self.detail,
            "stored": self.stored,
            "bytes": self.bytes_sent,
            "timings_ms": {**self.timings_ms, "total": self.elapsed_ms()},
            "events": dict(self.counters),
        }
