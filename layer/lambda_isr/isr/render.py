"""Running a face: whatever it returns becomes a head plus a stream of byte chunks.

:func:`start_render` calls the face and pulls its **first non-empty chunk** (or, buffered,
every chunk) before anything is sent, so a failure there is still clean: the caller can
answer with a stale copy or an error page. Async faces and async iterables run on a private
event loop owned by the :class:`RenderStream`.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Callable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

from lambda_isr.errors import LambdaIsrError
from lambda_isr.http.response import FaceResult
from lambda_isr.runtime.writer import normalise_head, to_bytes

if TYPE_CHECKING:
    import asyncio

T = TypeVar("T")


class RenderCancelledError(LambdaIsrError):
    """An async face was cancelled mid-render: handled like any render failure (stale copy,
    error page or error footer), never allowed to kill the runtime loop."""


class _Loop:
    """A lazily created private event loop (only for async faces: sync faces never pay the
    ~40 ms import of ``asyncio``)."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None

    def run(self, awaitable: Any) -> Any:
        import asyncio  # noqa: PLC0415 - only async faces need it

        if self._loop is None:
            self._loop = asyncio.new_event_loop()
        try:
            return self._loop.run_until_complete(awaitable)
        except asyncio.CancelledError as exc:  # a BaseException: make it an ordinary failure
            raise RenderCancelledError("the face's coroutine was cancelled") from exc

    def close(self) -> None:
        if self._loop is not None:
            try:
                self._loop.run_until_complete(self._loop.shutdown_asyncgens())
            finally:
                self._loop.close()
                self._loop = None


class RenderStream:
    """A started render: its head is known; ``first`` (or every chunk, buffered) is pulled."""

    def __init__(
        self,
        *,
        status: int,
        headers: dict[str, str],
        cookies: list[str],
        chunks: Iterator[bytes],
        loop: _Loop,
        closer: Callable[[], None],
    ) -> None:
        self.status = status
        self.headers = headers
        self.cookies = cookies
        self._chunks = chunks
        self._loop = loop
        self._closer = closer
        self.prefetched: list[bytes] = []
        self.exhausted = False

    def _pull(self) -> bytes | None:
        while True:
            try:
                chunk = next(self._chunks)
            except StopIteration:
                self.exhausted = True
                return None
            if chunk:
                return chunk

    def prefetch(self, everything: bool) -> None:
        while not self.exhausted:
            chunk = self._pull()
            if chunk is not None:
                self.prefetched.append(chunk)
                if not everything:
                    return

    def chunks(self) -> Iterator[bytes]:
        """Every chunk, prefetched ones first. Exceptions from the face propagate."""
        yield from self.prefetched
        while not self.exhausted:
            chunk = self._pull()
            if chunk is not None:
                yield chunk

    def close(self) -> None:
        try:
            self._closer()
        finally:
            self._loop.close()


def _sync_chunks(body: Any, loop: _Loop) -> tuple[Iterator[bytes], Callable[[], None]]:
    if body is None:
        return iter(()), lambda: None
    if isinstance(body, str | bytes | bytearray | memoryview):
        return iter((to_bytes(body),)), lambda: None
    if hasattr(body, "__aiter__"):
        ait: AsyncIterator[Any] = body.__aiter__()

        def from_async() -> Iterator[bytes]:
            while True:
                try:
                    item = loop.run(ait.__anext__())
                except StopAsyncIteration:
                    return
                yield to_bytes(item)

        def close_async() -> None:
            aclose = getattr(ait, "aclose", None)
            if aclose is not None:
                loop.run(aclose())

        return from_async(), close_async
    if hasattr(body, "__iter__"):
        it = iter(body)

        def from_sync() -> Iterator[bytes]:
            for item in it:
                yield to_bytes(item)

        def close_sync() -> None:
            close = getattr(it, "close", None)
            if close is not None:
                close()

        return from_sync(), close_sync
    raise TypeError(f"a face must return str, bytes, an iterable or FaceResult, not {body!r:.80}")


def start_render(face: Callable[[T], Any], arg: T, *, buffered: bool) -> RenderStream:
    """Call ``face(arg)`` and pull its first chunk (every chunk when ``buffered``)."""
    loop = _Loop()
    stream: RenderStream | None = None
    try:
        result = face(arg)
        if inspect.isawaitable(result):
            result = loop.run(result)
        status, body = 200, result
        headers: dict[str, str] = {}
        cookies: list[str] = []
        if isinstance(result, FaceResult):
            status, headers, cookies = normalise_head(
                result.status, result.headers, list(result.cookies)
            )
            body = result.body
        chunks, closer = _sync_chunks(body, loop)
        stream = RenderStream(
            status=status, headers=headers, cookies=cookies, chunks=chunks, loop=loop, closer=closer
        )
        stream.prefetch(everything=buffered)
        return stream
    except BaseException:
        if stream is not None:
            stream.close()
        else:
            loop.close()
        raise
