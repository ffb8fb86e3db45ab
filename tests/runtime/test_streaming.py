"""Streamed responses through the real loop and client, observed by the fake Runtime API."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import h11
import pytest

from lambda_isr.runtime.recording import (
    InvocationErrorEvent,
    PendingInvocation,
    RecordedChunk,
    StreamEnd,
)
from lambda_isr.runtime.stream import ResponseHead, StreamingResponse, streaming
from lambda_isr.runtime.writer import ResponseWriter
from tests.support.fake_runtime_api import FakeRuntimeApi, run_in_process


def one(api: FakeRuntimeApi, handler: Any, event: Any = None) -> PendingInvocation:
    [pending] = run_in_process(api, handler, [{"rawPath": "/"} if event is None else event])
    return pending


def test_chunks_leave_as_they_are_written(api: FakeRuntimeApi) -> None:
    @streaming
    def handler(event: Any, context: Any) -> Iterator[str]:
        yield "first"
        time.sleep(0.3)
        yield "second"

    pending = one(api, handler)
    first, second = pending.body_chunks
    assert (first.data, second.data) == (b"first", b"second")
    assert second.at - first.at >= 0.25  # the first chunk did not wait for the second
    prelude = pending.prelude
    assert prelude is not None
    assert first.at - prelude.at < 0.2
    assert isinstance(pending.final, StreamEnd)
    assert pending.final.trailers == {}


def test_prelude_and_delimiter_are_separate_chunks_and_headers_exact(api: FakeRuntimeApi) -> None:
    @streaming
    def handler(event: Any, context: Any) -> Iterator[ResponseHead | str]:
        yield ResponseHead(201, {"Content-Type": "text/plain"})
        yield "hi"

    request = api.request_for(one(api, handler))
    assert request.header("Lambda-Runtime-Function-Response-Mode") == "streaming"
    assert request.header("Transfer-Encoding") == "chunked"
    assert request.header("Content-Type") == "application/vnd.awslambda.http-integration-response"
    assert request.header("Trailer") == (
        "Lambda-Runtime-Function-Error-Type, Lambda-Runtime-Function-Error-Body"
    )
    assert [c.data for c in request.chunks] == [
        b'{"statusCode":201,"headers":{"content-type":"text/plain"},"cookies":[]}',
        b"\0" * 8,
        b"hi",
    ]
    assert request.raw.endswith(b"2\r\nhi\r\n0\r\n\r\n")


def test_h11_server_role_parses_the_raw_bytes(api: FakeRuntimeApi) -> None:
    @streaming
    def handler(event: Any, context: Any) -> Iterator[str]:
        yield "one"
        yield ""
        yield "two"
        raise RuntimeError("late failure")

    raw = api.request_for(one(api, handler)).raw
    server = h11.Connection(h11.SERVER)
    events: list[Any] = []
    for i in range(len(raw)):  # one byte at a time
        server.receive_data(raw[i : i + 1])
        while (event := server.next_event()) is not h11.NEED_DATA:
            events.append(event)
    request = events[0]
    assert isinstance(request, h11.Request)
    assert request.method == b"POST"
    body = b"".join(bytes(e.data) for e in events if isinstance(e, h11.Data))
    assert body.endswith(b"\0" * 8 + b"onetwo")
    end = events[-1]
    assert isinstance(end, h11.EndOfMessage)
    trailers = dict(end.headers)
    assert trailers[b"lambda-runtime-function-error-type"] == b"RuntimeError"
    assert b"lambda-runtime-function-error-body" in trailers


def test_exception_mid_stream_sends_decodable_trailers(api: FakeRuntimeApi) -> None:
    @streaming
    def handler(event: Any, context: Any) -> Iterator[str]:
        yield "<html>partial"
        raise KeyError("missing")

    pending = one(api, handler)
    assert pending.body == b"<html>partial"  # bytes already sent are kept
    end = pending.final
    assert isinstance(end, StreamEnd)
    assert end.error_type == "KeyError"
    assert end.error is not None
    assert end.error["errorType"] == "KeyError"
    assert end.error["errorMessage"] == "'missing'"
    assert any("raise KeyError" in line for line in end.error["stackTrace"])


def test_cancelled_async_handler_mid_stream_ends_with_trailers_and_the_loop_goes_on(
    api: FakeRuntimeApi,
) -> None:
    """``asyncio.CancelledError`` is a BaseException: it must end the stream with trailers like
    any failure, and the loop must serve the next invocation (no process death)."""

    @streaming
    async def handler(event: Any, context: Any) -> AsyncIterator[str]:
        yield "<html>partial"
        if event.get("cancel"):
            raise asyncio.CancelledError
        yield "</html>"

    first, second = run_in_process(api, handler, [{"cancel": True}, {}])
    assert first.body == b"<html>partial"
    assert isinstance(first.final, StreamEnd)
    # The cancellation became an ordinary failure (BodyCancelledError, from CancelledError).
    assert first.final.error_type == "BodyCancelledError"
    assert second.body == b"<html>partial</html>"
    assert isinstance(second.final, StreamEnd)
    assert second.final.error_type is None


def test_exception_before_head_posts_error(api: FakeRuntimeApi) -> None:
    @streaming
    def handler(event: Any, context: Any, writer: ResponseWriter) -> None:
        raise ValueError("no head")

    pending = one(api, handler)
    final = pending.final
    assert isinstance(final, InvocationErrorEvent)
    assert final.error_type == "ValueError"
    assert final.payload["errorMessage"] == "no head"
    assert final.payload["requestId"] == pending.request_id
    assert isinstance(final.payload["stackTrace"], list)
    assert not any(r.target.endswith("/response") for r in api.requests)


def test_crlf_in_header_rejected_before_anything_is_sent(api: FakeRuntimeApi) -> None:
    @streaming
    def handler(event: Any, context: Any, writer: ResponseWriter) -> None:
        writer.start(200, {"x-evil": "a\r\nSet-Cookie: pwned=1"})
        writer.write("never")

    pending = one(api, handler)
    final = pending.final
    assert isinstance(final, InvocationErrorEvent)
    assert final.error_type == "HeaderValueError"
    assert not any(r.target.endswith("/response") for r in api.requests)


@pytest.mark.parametrize("status", [200, 304])
def test_empty_body_still_sends_prelude_and_terminator(api: FakeRuntimeApi, status: int) -> None:
    def handler(event: Any, context: Any) -> StreamingResponse:
        return StreamingResponse(status=status, headers={"etag": '"1"'})

    pending = one(api, handler)
    request = api.request_for(pending)
    assert [c.data for c in request.chunks][1:] == [b"\0" * 8]
    assert request.raw.endswith(b"8\r\n" + b"\0" * 8 + b"\r\n0\r\n\r\n")
    assert pending.prelude is not None
    assert pending.prelude.status == status
    assert isinstance(pending.final, StreamEnd)


def test_twenty_megabytes_byte_identical(api: FakeRuntimeApi) -> None:
    payload = bytes(range(256)) * (20 * 1024 * 1024 // 256)

    @streaming
    def handler(event: Any, context: Any) -> Iterator[bytes]:
        view = memoryview(payload)
        for offset in range(0, len(payload), 3 * 1024 * 1024 + 17):
            yield bytes(view[offset : offset + 3 * 1024 * 1024 + 17])

    api.keep_requests = False
    pending = one(api, handler)
    assert pending.body == payload
    assert isinstance(pending.final, StreamEnd)


def test_cookies_in_prelude_and_headers_folded(api: FakeRuntimeApi) -> None:
    def handler(event: Any, context: Any) -> StreamingResponse:
        return StreamingResponse(
            headers={"Set-Cookie": ["a=1; Path=/", "b=2"], "Vary": ["accept", "cookie"]},
            cookies=["c=3"],
            body="ok",
        )

    prelude = one(api, handler).prelude
    assert prelude is not None
    assert prelude.cookies == ["a=1; Path=/", "b=2", "c=3"]
    assert prelude.headers == {"vary": "accept, cookie"}


def test_non_json_event_gets_400_for_stream_handlers(api: FakeRuntimeApi) -> None:
    @streaming
    def handler(event: Any, context: Any) -> str:
        raise AssertionError("must not be called")

    pending = one(api, handler, b"not json{")
    assert pending.prelude is not None
    assert pending.prelude.status == 400
    assert pending.prelude.headers["content-type"].startswith("text/plain")
    assert isinstance(pending.final, StreamEnd)
    assert pending.final.error is None


def test_async_generator_and_coroutine_handlers(api: FakeRuntimeApi) -> None:
    @streaming
    async def agen(event: Any, context: Any) -> AsyncIterator[ResponseHead | str]:
        yield ResponseHead(202, {"content-type": "text/plain"})
        yield "a"
        yield "b"

    async def chunks() -> AsyncIterator[bytes]:
        yield b"x"
        yield b"y"

    @streaming
    async def coro(event: Any, context: Any) -> StreamingResponse:
        return StreamingResponse(status=203, body=chunks())

    first, second = run_in_process(api, agen, [{}]) + run_in_process(api, coro, [{}])
    assert first.prelude is not None
    assert first.prelude.status == 202
    assert first.body == b"ab"
    assert second.prelude is not None
    assert second.prelude.status == 203
    assert second.body == b"xy"


def test_handler_keeps_working_after_end(api: FakeRuntimeApi) -> None:
    seen: dict[str, float] = {}

    @streaming
    def handler(event: Any, context: Any, writer: ResponseWriter) -> None:
        writer.write("page")
        writer.end()
        seen["ended"] = time.monotonic()
        time.sleep(0.2)  # storing the page, after the client has it
        seen["returned"] = time.monotonic()

    pending = one(api, handler)
    assert isinstance(pending.final, StreamEnd)
    assert pending.final.at <= seen["ended"] + 0.05
    assert pending.final.at < seen["returned"]


def test_writer_style_streams_each_write(api: FakeRuntimeApi) -> None:
    @streaming
    def handler(event: Any, context: Any, writer: ResponseWriter) -> None:
        writer.start(200, {"content-type": "text/html"}, ["s=1"])
        for part in ("<p>", "", "hello", "</p>"):
            writer.write(part)

    pending = one(api, handler)
    assert [c.data for c in pending.body_chunks] == [b"<p>", b"hello", b"</p>"]
    assert pending.prelude is not None
    assert pending.prelude.cookies == ["s=1"]
    assert all(isinstance(e, RecordedChunk) for e in pending.body_chunks)
