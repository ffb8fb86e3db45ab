"""What a local Runtime API observes, as values: raw requests, chunks, and decoded responses.

:class:`StreamDecoder` splits a streamed body into prelude and body the way Lambda does (up to the
8 NUL bytes, wherever the chunk boundaries fall). Consumers (tests, ``lambda-isr invoke``, the dev
server) receive :data:`InvocationEvent` values one by one as they arrive.
"""

from __future__ import annotations

import base64
import json
import queue
import threading
from dataclasses import dataclass, field
from typing import Any, TypeAlias

DELIMITER = b"\0" * 8
MAX_PRELUDE = 16 * 1024


@dataclass(frozen=True, slots=True)
class WireChunk:
    """One chunk of a chunked request body and when it was fully received (monotonic s)."""

    data: bytes
    at: float


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    method: str
    target: str
    headers: tuple[tuple[str, str], ...]
    body: bytes
    chunked: bool
    chunks: tuple[WireChunk, ...]
    trailers: tuple[tuple[str, str], ...]
    raw: bytes
    started_at: float
    ended_at: float

    def header(self, name: str) -> str | None:
        wanted = name.lower()
        return next((v for k, v in self.headers if k.lower() == wanted), None)


# --- events a consumer receives, in order ---------------------------------------------------


@dataclass(frozen=True, slots=True)
class Prelude:
    status: int
    headers: dict[str, str]
    cookies: list[str]
    at: float


@dataclass(frozen=True, slots=True)
class RecordedChunk:
    data: bytes
    at: float


@dataclass(frozen=True, slots=True)
class StreamEnd:
    """The terminating chunk arrived; ``error`` is the decoded Error-Body trailer if any."""

    trailers: dict[str, str]
    error_type: str | None
    error: dict[str, Any] | None
    at: float


@dataclass(frozen=True, slots=True)
class BufferedResult:
    body: bytes
    content_type: str | None
    at: float

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass(frozen=True, slots=True)
class InvocationErrorEvent:
    """``POST /invocation/{id}/error`` (nothing was streamed)."""

    payload: dict[str, Any]
    error_type: str | None
    at: float


@dataclass(frozen=True, slots=True)
class StreamBroken:
    """The stream violated the contract (no prelude, connection dropped, ...)."""

    reason: str
    at: float


InvocationEvent: TypeAlias = (
    Prelude | RecordedChunk | StreamEnd | BufferedResult | InvocationErrorEvent | StreamBroken
)
FINAL_EVENTS = (StreamEnd, BufferedResult, InvocationErrorEvent, StreamBroken)


def decode_error_trailers(trailers: dict[str, str]) -> dict[str, Any] | None:
    raw = trailers.get("lambda-runtime-function-error-body")
    if raw is None:
        return None
    decoded: dict[str, Any] = json.loads(base64.b64decode(raw, validate=True))
    return decoded


class StreamDecoder:
    """Prelude + NULs + body, incrementally (sans-IO)."""

    def __init__(self) -> None:
        self._pending = b""
        self.prelude_seen = False

    def feed(self, data: bytes, at: float) -> list[InvocationEvent]:
        if self.prelude_seen:
            return [RecordedChunk(data, at)] if data else []
        self._pending += data
        index = self._pending.find(DELIMITER)
        if index < 0:
            if len(self._pending) > MAX_PRELUDE:
                raise ValueError("no prelude delimiter within the first 16 KB")
            return []
        head, rest = self._pending[:index], self._pending[index + len(DELIMITER) :]
        self._pending = b""
        self.prelude_seen = True
        prelude = json.loads(head)
        events: list[InvocationEvent] = [
            Prelude(
                int(prelude["statusCode"]),
                dict(prelude.get("headers") or {}),
                list(prelude.get("cookies") or []),
                at,
            )
        ]
        if rest:
            events.append(RecordedChunk(rest, at))
        return events


@dataclass
class PendingInvocation:
    """One queued event: its request id, its live event queue, and the final record."""

    request_id: str
    event: bytes
    next_headers: dict[str, str] = field(default_factory=dict)
    events: queue.Queue[InvocationEvent] = field(default_factory=queue.Queue)
    history: list[InvocationEvent] = field(default_factory=list)
    request: RecordedRequest | None = None
    delivered_at: float | None = None
    _done: threading.Event = field(default_factory=threading.Event)

    def publish(self, event: InvocationEvent) -> None:
        self.history.append(event)
        self.events.put(event)
        if isinstance(event, FINAL_EVENTS):
            self._done.set()

    def wait(self, timeout: float = 10.0) -> PendingInvocation:
        if not self._done.wait(timeout):
            raise TimeoutError(f"invocation {self.request_id} did not finish in {timeout}s")
        return self

    @property
    def done(self) -> bool:
        return self._done.is_set()

    def stream(self, timeout: float = 10.0) -> Any:
        """Yield events as they arrive, up to and including the final one."""
        while True:
            event = self.events.get(timeout=timeout)
            yield event
            if isinstance(event, FINAL_EVENTS):
                return

    # --- summaries for assertions ------------------------------------------------------------

    @property
    def final(self) -> InvocationEvent:
        return self.history[-1]

    @property
    def prelude(self) -> Prelude | None:
        return next((e for e in self.history if isinstance(e, Prelude)), None)

    @property
    def body(self) -> bytes:
        return b"".join(e.data for e in self.history if isinstance(e, RecordedChunk))

    @property
    def body_chunks(self) -> list[RecordedChunk]:
        return [e for e in self.history if isinstance(e, RecordedChunk)]
