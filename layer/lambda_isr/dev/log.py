"""The dev server's log: one thread-safe text stream shared by the server, the pool and the
workers' forwarded output, plus the per-request access line and the one-time notices."""

from __future__ import annotations

import json
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any, TextIO
from urllib.parse import parse_qsl

from lambda_isr.dev.events import sent_query


class DevLog:
    """Writes whole lines (never interleaved), each stamped with the wall-clock time."""

    def __init__(self, stream: TextIO | None = None, *, stamp: bool = True) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.stamp = stamp
        self._lock = threading.Lock()
        self.notices = QueryNotices()

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


class QueryNotices:
    """Tells once per parameter name that a cached page ignores a query parameter.

    A cached render sees only the query parameters in its face's ``vary_query`` (the others are
    dropped from the key and from the request), which is right for the cache and puzzling in
    development (``?page=3`` renders page 1). The worker's summary line carries the cache key;
    the query string sent is remembered by :mod:`lambda_isr.dev.events`.
    """

    def __init__(self) -> None:
        self._told: set[str] = set()
        self._lock = threading.Lock()

    def check_line(self, line: str) -> str | None:
        """The notice a worker's output line calls for, if any (at most once per name)."""
        if _SUMMARY_MESSAGE not in line:
            return None
        try:
            record = json.loads(line)
        except ValueError:
            return None
        return self.check(record) if isinstance(record, dict) else None

    def check(self, record: dict[str, Any]) -> str | None:
        if record.get("message") != _SUMMARY_MESSAGE:
            return None
        request_id = record.get("correlation_id")
        sent = sent_query(request_id) if isinstance(request_id, str) else None
        kept = _key_query_names(record.get("cache_key"))
        if sent is None or kept is None:
            return None  # no query string, or the render saw the whole request (uncached)
        method, target = sent
        names = {name for name, _ in parse_qsl(target.partition("?")[2], keep_blank_values=True)}
        with self._lock:
            dropped = sorted(names - kept - self._told)
            self._told.update(dropped)
        if not dropped:
            return None
        listed = ", ".join(repr(name) for name in dropped)
        plural = "s" if len(dropped) > 1 else ""
        return (
            f"notice: {method} {target}: query parameter{plural} {listed} not in the face's "
            f"vary_query: dropped from the cache key and from the request the cached render "
            f"sees (add to vary_query to vary the page on {'them' if plural else 'it'}; "
            "said once per name)"
        )


def _key_query_names(key: object) -> set[str] | None:
    """The query parameter names a cache key holds; None when the key is not a page key (no
    key: an uncached request; a custom key function: the face saw the whole request)."""
    if not isinstance(key, str) or "::" not in key:
        return None
    rest = key.split("::", 1)[1].split("#", 1)[0]
    host, slash, page = rest.partition("/")
    if "::" in host or not slash:
        return None
    return {name for name, _ in parse_qsl(page.partition("?")[2], keep_blank_values=True)}
