"""Per-request bookkeeping the engine fills in: state, key, timings, counters, spans.

Observability (:mod:`lambda_isr.observability`) turns it into one summary log line, metrics
and trace subsegments; the engine itself knows nothing about Powertools.
"""

from __future__ import annotations

import contextlib
import logging
from collections import Counter
from collections.abc import Callable
from contextlib import AbstractContextManager
from types import TracebackType
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


def no_span(_name: str) -> AbstractContextManager[Any]:
    """No trace subsegment (tracing off): :meth:`RequestTrace.timed` then opens none at all."""
    return contextlib.nullcontext()


_no_span = no_span


class _Timed:
    """:meth:`RequestTrace.timed`'s context manager (a plain class: no generator per block)."""

    __slots__ = ("_name", "_span", "_start", "_trace")

    def __init__(self, trace: RequestTrace, name: str) -> None:
        self._trace = trace
        self._name = name
        self._span: AbstractContextManager[Any] | None = None
        self._start = 0.0

    def __enter__(self) -> None:
        trace = self._trace
        if trace._span is not no_span:
            span = trace._span(self._name)
            span.__enter__()
            self._span = span
        self._start = trace.clock.monotonic()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        trace = self._trace
        try:
            if self._span is not None:
                return self._span.__exit__(kind, error, tb)
            return None
        finally:
            spent = (trace.clock.monotonic() - self._start) * 1000.0
            key = f"{self._name}_ms"
            timings = trace.timings_ms
            timings[key] = round(timings.get(key, 0.0) + spent, 3)


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

    def timed(self, name: str) -> AbstractContextManager[None]:
        """Time a block (milliseconds, accumulated) inside a trace subsegment ``name``."""
        return _Timed(self, name)

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
