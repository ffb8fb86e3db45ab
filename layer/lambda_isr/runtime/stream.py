"""Streaming handlers without ISR: :class:`StreamingResponse`, :class:`Head`, ``@streaming``.

Three handler styles, all decorated with ``@streaming``::

    @streaming
    def writer_style(event, context, writer):          # (a) write to a ResponseWriter
        writer.start(200, {"content-type": "text/html"})
        writer.write("<p>hello")

    @streaming
    def generator_style(event, context):                # (b) yield chunks, a Head first if needed
        yield Head(404, {"content-type": "text/plain"})
        yield "not here"

    @streaming
    async def async_style(event, context):              # (c) async generator or coroutine
        return StreamingResponse(body=some_async_iterable)

The decorated handler streams under the layer's runtime (through ``__lambda_isr_stream__``) and
still works under the stock runtime or ``sam local invoke``, where it returns the buffered
Function URL response dict.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterable, Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeAlias

from lambda_isr.errors import ResponseStateError
from lambda_isr.runtime.writer import BufferedWriter, ResponseWriter

Chunk: TypeAlias = "str | bytes"
Body: TypeAlias = "bytes | str | Iterable[str | bytes] | AsyncIterable[str | bytes]"
StreamFn: TypeAlias = Callable[[Any, Any, ResponseWriter], None]

STREAM_ATTRIBUTE = "__lambda_isr_stream__"


@dataclass(frozen=True, slots=True)
class Head:
    """Status, headers and cookies; may be the first item a generator handler yields."""

    status: int = 200
    headers: Mapping[str, str | Sequence[str]] = field(default_factory=dict)
    cookies: Sequence[str] = ()


@dataclass(frozen=True, slots=True)
class StreamingResponse:
    """A response whose body is streamed: bytes, str, or a (async) iterable of them."""

    status: int = 200
    headers: Mapping[str, str | Sequence[str]] = field(default_factory=dict)
    cookies: Sequence[str] = ()
    body: Body = b""


def _is_async(value: object) -> bool:
    return hasattr(value, "__aiter__") or hasattr(value, "__await__")


def emit(result: object, writer: ResponseWriter) -> None:
    """Write a handler's result (StreamingResponse, str, bytes, (async) iterable, awaitable) to
    ``writer``. Does not end the writer: the caller does."""
    if isinstance(result, StreamingResponse):
        writer.start(result.status, result.headers, result.cookies)
        result = result.body
    if _is_async(result):
        import asyncio  # noqa: PLC0415 - only async handlers pay for asyncio

        asyncio.run(_emit_async(result, writer))
        return
    _emit_sync(result, writer)


def _emit_item(item: object, writer: ResponseWriter) -> None:
    if isinstance(item, Head):
        if writer.started:
            raise ResponseStateError("a Head must be the first item a handler yields")
        writer.start(item.status, item.headers, item.cookies)
    elif isinstance(item, str | bytes | bytearray | memoryview):
        if item:
            writer.write(item if isinstance(item, str | bytes) else bytes(item))
    else:
        raise TypeError(f"a streamed body yields str or bytes, got {type(item).__name__}")


def _emit_sync(result: object, writer: ResponseWriter) -> None:
    if isinstance(result, Head | str | bytes | bytearray | memoryview):
        _emit_item(result, writer)
        return
    if result is None:
        return
    if not isinstance(result, Iterable):
        raise TypeError(f"cannot stream a {type(result).__name__}")
    iterator = iter(result)
    try:
        for item in iterator:
            _emit_item(item, writer)
    finally:
        close = getattr(iterator, "close", None)
        if close is not None:
            close()


async def _emit_async(result: object, writer: ResponseWriter) -> None:
    if hasattr(result, "__await__"):
        result = await result
        if isinstance(result, StreamingResponse):
            writer.start(result.status, result.headers, result.cookies)
            result = result.body
    if not hasattr(result, "__aiter__"):
        _emit_sync(result, writer)
        return
    iterator = result.__aiter__()
    try:
        async for item in iterator:
            _emit_item(item, writer)
    finally:
        aclose = getattr(iterator, "aclose", None)
        if aclose is not None:
            await aclose()


def _wants_writer(fn: Callable[..., object]) -> bool:
    """True for ``(event, context, writer)`` handlers (counted without importing inspect)."""
    while hasattr(fn, "__wrapped__"):
        fn = fn.__wrapped__
    code = getattr(fn, "__code__", None)
    offset = 0
    if code is None and hasattr(fn, "__func__"):
        code, offset = fn.__func__.__code__, 1
    if code is None and not isinstance(fn, type):
        code, offset = getattr(type(fn).__call__, "__code__", None), 1
    return code is not None and code.co_argcount - offset >= 3


def streaming(fn: Callable[..., object]) -> Callable[[Any, Any], dict[str, Any]]:
    """Make ``fn`` a streaming handler (see the module docstring for the styles)."""
    writer_style = _wants_writer(fn)

    def stream(event: Any, context: Any, writer: ResponseWriter) -> None:
        if writer_style:
            outcome = fn(event, context, writer)
            if hasattr(outcome, "__await__"):
                import asyncio  # noqa: PLC0415

                asyncio.run(_await(outcome))
            return
        emit(fn(event, context), writer)

    @functools.wraps(fn)
    def handler(event: Any, context: Any) -> dict[str, Any]:
        writer = BufferedWriter()
        stream(event, context, writer)
        if writer.error is not None:
            raise writer.error
        if not writer.finished:
            writer.end()
        return writer.to_function_url_response()

    setattr(handler, STREAM_ATTRIBUTE, stream)
    return handler


async def _await(awaitable: Awaitable[object]) -> None:
    await awaitable
