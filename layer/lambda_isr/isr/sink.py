"""Where a page goes: the live response, a buffer, or nowhere. Buffered vs streaming is a type.

Every sink is a :class:`~lambda_isr.runtime.writer.ResponseWriter` plus one fact, ``eager``:

- :class:`StreamingSink`: the layer's live response stream. Chunks leave as the face yields
  them; a failure after the head is a late failure (error footer + error trailers).
- :class:`BufferedSink`: the stock runtime, ``sam local invoke``, a ``BUFFERED`` Function URL.
  ``eager``: the whole render is pulled before the head, so every render failure is an early one
  (stale copy or error page). Its answer is all or nothing (:meth:`BufferedSink.response`).
- :class:`DetachedSink`: no client at all (a regeneration after the response ended, a build, a
  queue message). Everything written is dropped; the render is still captured and published.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from lambda_isr.errors import ResponseStateError
from lambda_isr.runtime.writer import BufferedWriter, HeaderInput, ResponseWriter, respond

__all__ = ["BufferedSink", "DetachedSink", "Sink", "StreamingSink"]


class StreamingSink:
    """The live response: delegates to the runtime's writer."""

    eager = False
    attached = True

    def __init__(self, writer: ResponseWriter) -> None:
        self.writer = writer

    @property
    def started(self) -> bool:
        return self.writer.started

    @property
    def finished(self) -> bool:
        return self.writer.finished

    @property
    def bytes_written(self) -> int:
        return self.writer.bytes_written

    def start(
        self, status: int = 200, headers: HeaderInput | None = None, cookies: Sequence[str] = ()
    ) -> None:
        self.writer.start(status, headers, cookies)

    def write(self, data: bytes | str) -> None:
        self.writer.write(data)

    def end(self) -> None:
        self.writer.end()

    def respond(
        self, status: int, headers: HeaderInput | None, cookies: Sequence[str], body: bytes
    ) -> None:
        """A whole answer at once (one write on the live stream)."""
        respond(self.writer, status, headers, cookies, body)

    def fail(self, error: BaseException) -> None:
        self.writer.fail(error)


class BufferedSink(BufferedWriter):
    """The buffered Function URL answer, pulled whole before its head."""

    eager = True
    attached = True

    def response(self) -> dict[str, Any] | None:
        """The Function URL response dict; ``None`` when the answer broke after its head (a
        buffered client must then get a clean error page, never a truncated one)."""
        if self.error is not None:
            return None
        return self.to_function_url_response()


class DetachedSink(BufferedWriter):
    """No client: the buffered writer's head validation and state checks, but the bytes are
    counted and dropped."""

    eager = False
    attached = False

    def write(self, data: bytes | str) -> None:
        if self.finished:
            raise ResponseStateError("write after the response ended")
        if not self.started:
            self.start()
        self._size += len(data)


Sink = StreamingSink | BufferedSink | DetachedSink
