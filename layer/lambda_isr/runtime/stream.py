"""Streaming handlers without ISR: ``StreamingResponse``, ``ResponseHead``, ``@streaming``.

Three handler styles, all decorated with ``@streaming``::

    @streaming
    def writer_style(event, context, writer):          # (a) write to a ResponseWriter
        writer.start(200, {"content-type": "text/html"})
        writer.write("<p>hello")

    @streaming
    def generator_style(event, context):                # (b) yield chunks, a ResponseHead first
        yield ResponseHead(404, {"content-type": "text/plain"})
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
from collections.abc import AsyncIterable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeAlias

from lambda_isr.body import BodyDriver
from lambda_isr.errors import ResponseStateError
from lambda_isr.runtime.writer import BufferedWriter, ResponseWriter

Chunk: TypeAlias = "str | bytes"
Body: TypeAlias = "bytes | str | Iterable[str | bytes] | AsyncIterable[str | bytes]"
StreamFn: TypeAlias = Callable[[Any, Any, ResponseWriter], None]

STREAM_ATTRIBUTE = "__lambda_isr_stream__"


@dataclass(frozen=True, slots=True)
class ResponseHead:
    """An HTTP status, headers and cookies; may be the first item a generator handler yields.
    (Not a document ``<head>``: that is ``PageHead``.)"""

    status: int = 200
    headers: Mapping[str, str | Sequence[str]] = field(default_factory=dict)
    cookies: Sequence[str] = ()


Head = ResponseHead
"""Deprecated alias of :class:`ResponseHead` (kept for one release)."""


@dataclass(frozen=True, slots=True)
class StreamingResponse:
    """A response whose body is streamed: bytes, str, or a (async) iterable of them."""

    status: int = 200
    headers: Mapping[str, str | Sequence[str]] = field(default_factory=dict)
    cookies: Sequence[str] = ()
    body: Body = b""


def emit(result: object, writer: ResponseWriter) -> None:
    """Write a handler's result (StreamingResponse, str, bytes, (async) iterable, awaitable) to
    ``writer``. Does not end the writer: the caller does. Sync and async results are driven
    one way, by a :class:`~lambda_isr.body.BodyDriver` (its docstring states the event loop
    policy: sync handlers never import ``asyncio``)."""
    driver = BodyDriver()
    try:
        result = driver.resolve(result)
        if isinstance(result, StreamingResponse):
            writer.start(result.status, result.headers, result.cookies)
            result = driver.resolve(result.body)
        if isinstance(result, ResponseHead):
            _emit_item(result, writer)
            return
        if not isinstance(result, str | bytes | bytearray | memoryview) and not (
            result is None or hasattr(result, "__iter__") or hasattr(result, "__aiter__")
        ):
            raise TypeError(f"cannot stream a {type(result).__name__}")
        items, close = driver.items(result)
        try:
            for item in items:
                _emit_item(item, writer)
        finally:
            close()
    finally:
        driver.close()


def _emit_item(item: object, writer: ResponseWriter) -> None:
    if isinstance(item, ResponseHead):
        if writer.started:
            raise ResponseStateError("a ResponseHead must be the first item a handler yields")
        writer.start(item.status, item.headers, item.cookies)
    elif isinstance(item, str | bytes | bytearray | memoryview):
        if item:
            writer.write(item if isinstance(item, str | bytes) else bytes(item))
    else:
        raise TypeError(f"a streamed body yields str or bytes, got {type(item).__name__}")


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
            driver = BodyDriver()
            try:
                driver.resolve(fn(event, context, writer))
            finally:
                driver.close()
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
