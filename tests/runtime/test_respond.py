"""A whole answer known up front (``respond``): the same chunks as start/write/end, one write."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from lambda_isr.errors import ResponseStateError
from lambda_isr.runtime.client import LiveWriter, RuntimeApiClient
from lambda_isr.runtime.recording import StreamEnd
from lambda_isr.runtime.stream import streaming
from lambda_isr.runtime.writer import BufferedWriter, ResponseWriter, respond
from tests.support.fake_runtime_api import FakeRuntimeApi, run_in_process

RID = "8476a536-e9f4-11e8-9739-2dfe598c3fcd"
ACCEPTED = (
    b"HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\nContent-Length: 16\r\n\r\n"
    b'{"status": "OK"}'
)
HEAD = {"content-type": "text/html", "etag": '"abc"'}
BODY = b"<p>" + b"x" * 3000 + b"</p>"


class RecordingSocket:
    """Records every write call; answers each request with 202."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.pending = b""

    def sendall(self, data: bytes) -> None:
        self.writes.append(bytes(data))
        self.pending = ACCEPTED

    def sendmsg(self, pieces: Sequence[bytes]) -> int:
        data = b"".join(pieces)
        self.writes.append(data)
        self.pending = ACCEPTED
        return len(data)

    def recv_into(self, buffer: bytearray) -> int:
        data, self.pending = self.pending, b""
        buffer[: len(data)] = data
        return len(data)


def client_with(sock: RecordingSocket) -> RuntimeApiClient:
    from lambda_isr.runtime.connection import RuntimeApiConnection  # noqa: PLC0415

    client = RuntimeApiClient("127.0.0.1:9001")
    client._sock = sock  # type: ignore[assignment]
    client._conn = RuntimeApiConnection(client.address)
    return client


@pytest.mark.parametrize("body", [BODY, b""])
def test_respond_is_start_write_end_in_one_write(body: bytes) -> None:
    stepwise, whole = RecordingSocket(), RecordingSocket()
    writer = LiveWriter(client_with(stepwise), RID)
    writer.start(200, HEAD, ["a=b"])
    writer.write(body)
    writer.end()
    one = LiveWriter(client_with(whole), RID)
    one.respond(200, HEAD, ["a=b"], body)
    assert len(stepwise.writes) >= 3
    assert len(whole.writes) == 1  # head, prelude, delimiter, body and end together
    assert whole.writes[0] == b"".join(stepwise.writes)  # the very same bytes and chunks
    assert one.finished
    assert one.bytes_written == len(body)
    assert one.response is not None
    assert one.response.status == 202


def test_respond_refuses_a_started_answer_and_bad_heads_send_nothing() -> None:
    sock = RecordingSocket()
    writer = LiveWriter(client_with(sock), RID)
    with pytest.raises(Exception, match="CR, LF or NUL"):
        writer.respond(200, {"x-bad": "a\r\nb"}, [], BODY)
    assert sock.writes == []
    writer.start(200, HEAD)
    with pytest.raises(ResponseStateError):
        writer.respond(200, HEAD, [], BODY)


def test_respond_through_the_loop_keeps_prelude_and_delimiter_separate_chunks(
    api: FakeRuntimeApi,
) -> None:
    @streaming
    def handler(event: Any, context: Any, writer: ResponseWriter) -> None:
        respond(writer, 203, HEAD, ["s=1"], BODY)

    [pending] = run_in_process(api, handler, [{"rawPath": "/"}])
    request = api.request_for(pending)
    assert [c.data for c in request.chunks] == [
        b'{"statusCode":203,"headers":{"content-type":"text/html","etag":"\\"abc\\""},'
        b'"cookies":["s=1"]}',
        b"\0" * 8,
        BODY,
    ]
    assert isinstance(pending.final, StreamEnd)
    assert pending.final.trailers == {}


def test_respond_falls_back_to_start_write_end_on_any_writer() -> None:
    class Minimal(BufferedWriter):
        respond = None  # type: ignore[assignment]  # a writer without the shortcut

    for writer in (BufferedWriter(), Minimal()):
        respond(writer, 200, HEAD, [], BODY)
        assert writer.finished
        assert writer.to_function_url_response()["body"] == BODY.decode()
        assert writer.headers == HEAD
