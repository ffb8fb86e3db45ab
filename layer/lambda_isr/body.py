"""Driving response bodies: one way for sync and async bodies alike.

Event loop policy (the only one in lambda-isr):

- A body is driven on the calling thread, one item at a time, by a :class:`BodyDriver`.
- Sync results and sync iterables are iterated directly: a sync face never imports ``asyncio``
  (about 40 ms of cold start).
- Anything async (a coroutine face, an awaitable result, an async iterable such as Jinja2's
  ``generate_async()``) runs on the driver's **private event loop**, created at the first await
  and used for every await of that response: the face's coroutine, each ``__anext__``, the
  ``aclose``. The driver closes it, after ``shutdown_asyncgens``, when the response is done.
- Never ``asyncio.run`` per call, never the thread's current loop: a face cannot see another
  request's loop, and a loop left running by user code cannot break the runtime loop.
- ``asyncio.CancelledError`` (a ``BaseException``) becomes :class:`BodyCancelledError`, an
  ordinary failure: it is handled like any render error, never allowed to kill the process.

Used by the ISR render (:mod:`lambda_isr.isr.render`) and by ``@streaming``
(:mod:`lambda_isr.runtime.stream`). Imports nothing from the ISR or store code.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import TYPE_CHECKING, Any

from lambda_isr.errors import LambdaIsrError

if TYPE_CHECKING:
    import asyncio

__all__ = ["BodyCancelledError", "BodyDriver"]


class BodyCancelledError(LambdaIsrError):
    """An async body or face was cancelled mid-render: an ordinary render failure."""


class BodyDriver:
    """Resolves awaitables and iterates (async) iterables on a lazily created private loop."""

    __slots__ = ("_loop",)

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None

    def run(self, awaitable: Any) -> Any:
        """Await ``awaitable`` on the private loop (created on first use)."""
        import asyncio  # noqa: PLC0415 - only async bodies pay for asyncio

        if self._loop is None:
            self._loop = asyncio.new_event_loop()
        try:
            return self._loop.run_until_complete(awaitable)
        except asyncio.CancelledError as exc:
            raise BodyCancelledError("the body's coroutine was cancelled") from exc

    def resolve(self, value: Any) -> Any:
        """``value``, awaited first when it is awaitable."""
        if hasattr(value, "__await__"):
            return self.run(value)
        return value

    def items(self, body: Any) -> tuple[Iterator[Any], Callable[[], None]]:
        """The items of a sync or async iterable, and a closer that finalises it.

        A ``str``/``bytes`` value or ``None`` are one item or none; anything else that is not
        iterable raises ``TypeError`` naming it.
        """
        if body is None:
            return iter(()), _nothing
        if isinstance(body, str | bytes | bytearray | memoryview):
            return iter((body,)), _nothing
        if hasattr(body, "__aiter__"):
            ait: AsyncIterator[Any] = body.__aiter__()

            def from_async() -> Iterator[Any]:
                while True:
                    try:
                        item = self.run(ait.__anext__())
                    except StopAsyncIteration:
                        return
                    yield item

            def close_async() -> None:
                aclose = getattr(ait, "aclose", None)
                if aclose is not None:
                    self.run(aclose())

            return from_async(), close_async
        if hasattr(body, "__iter__"):
            it = iter(body)

            def close_sync() -> None:
                close = getattr(it, "close", None)
                if close is not None:
                    close()

            return it, close_sync
        raise TypeError(f"a body must be str, bytes or an (async) iterable, not {_kind(body)}")

    def close(self) -> None:
        """Finish async generators and close the private loop (if one was created)."""
        loop, self._loop = self._loop, None
        if loop is not None:
            try:
                loop.run_until_complete(loop.shutdown_asyncgens())
            finally:
                loop.close()


def _nothing() -> None:
    return None


def _kind(value: object) -> str:
    return f"{type(value).__name__} {value!r:.80}"
