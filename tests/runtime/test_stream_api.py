"""``@streaming`` handlers called the stock way (buffered), and what the package imports."""

from __future__ import annotations

import base64
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from lambda_isr.errors import HeaderValueError, ResponseStateError
from lambda_isr.runtime.stream import STREAM_ATTRIBUTE, ResponseHead, StreamingResponse, streaming
from lambda_isr.runtime.writer import BufferedWriter, ResponseWriter


def test_generator_handler_buffered_with_head() -> None:
    @streaming
    def handler(event: Any, context: Any) -> Iterator[ResponseHead | str | bytes]:
        yield ResponseHead(404, {"content-type": "text/plain"}, ["a=1"])
        yield "not "
        yield b"found"

    assert callable(getattr(handler, STREAM_ATTRIBUTE))
    assert handler({}, None) == {
        "statusCode": 404,
        "headers": {"content-type": "text/plain"},
        "cookies": ["a=1"],
        "body": "not found",
        "isBase64Encoded": False,
    }


def test_writer_handler_buffered_binary_body() -> None:
    @streaming
    def handler(event: Any, context: Any, writer: ResponseWriter) -> None:
        writer.start(200, {"content-type": "image/png"})
        writer.write(b"\x89PNG\xff")

    result = handler({}, None)
    assert result["isBase64Encoded"] is True
    assert base64.b64decode(result["body"]) == b"\x89PNG\xff"


def test_async_handlers_buffered() -> None:
    @streaming
    async def agen(event: Any, context: Any) -> AsyncIterator[str]:
        yield "a"
        yield "b"

    @streaming
    async def coro(event: Any, context: Any) -> str:
        return "done"

    @streaming
    async def async_writer(event: Any, context: Any, writer: ResponseWriter) -> None:
        writer.write("w")

    assert agen({}, None)["body"] == "ab"
    assert coro({}, None)["body"] == "done"
    assert async_writer({}, None)["body"] == "w"


def test_errors_propagate_under_the_stock_runtime() -> None:
    @streaming
    def late_head(event: Any, context: Any) -> Iterator[ResponseHead | str]:
        yield "body"
        yield ResponseHead(500)

    @streaming
    def bad_header(event: Any, context: Any) -> StreamingResponse:
        return StreamingResponse(headers={"x": "a\nb"})

    @streaming
    def failed(event: Any, context: Any, writer: ResponseWriter) -> None:
        writer.fail(KeyError("k"))

    with pytest.raises(ResponseStateError):
        late_head({}, None)
    with pytest.raises(HeaderValueError):
        bad_header({}, None)
    with pytest.raises(KeyError):
        failed({}, None)


def test_stream_function_drives_any_writer() -> None:
    @streaming
    def handler(event: Any, context: Any) -> StreamingResponse:
        return StreamingResponse(201, {"a": ["1", "2"]}, ["c=d"], iter(["x", "", "y"]))

    writer = BufferedWriter()
    getattr(handler, STREAM_ATTRIBUTE)({}, None, writer)
    assert not writer.finished  # the caller (the runtime) ends it
    writer.end()
    assert writer.to_function_url_response()["headers"] == {"a": "1, 2"}
    assert writer.body == b"xy"


def test_runtime_import_does_not_pull_heavy_modules() -> None:
    code = (
        "import sys, lambda_isr.runtime, lambda_isr.runtime.loop, lambda_isr.runtime.stream\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('boto3', 'botocore', 'asyncio')\n"
        "       or m.startswith(('lambda_isr.store', 'lambda_isr.isr', 'lambda_isr.face'))]\n"
        "print(bad)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout == "[]\n"


def test_head_is_a_deprecated_alias_of_response_head() -> None:
    import lambda_isr  # noqa: PLC0415

    assert lambda_isr.Head is lambda_isr.ResponseHead is ResponseHead
