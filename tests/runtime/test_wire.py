"""The hand-written HTTP/1.1 framer and parser of the runtime, checked against ``h11``.

``h11`` is not used by the runtime any more: here it is the independent party. In server role
it parses the bytes the runtime builds, and it produces the answers the runtime parses.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Sequence
from typing import Any

import h11
import pytest

from lambda_isr.errors import RuntimeApiError
from lambda_isr.runtime import invoke, protocol, stream
from lambda_isr.runtime.connection import Phase, RuntimeApiConnection
from lambda_isr.runtime.protocol import ApiResponse, Invocation

HOST = "127.0.0.1:9001"
RID = "8476a536-e9f4-11e8-9739-2dfe598c3fcd"

NEXT_HEAD = (
    b"HTTP/1.1 200 OK\r\n"
    b"Content-Type: application/json\r\n"
    b"Lambda-Runtime-Aws-Request-Id: " + RID.encode() + b"\r\n"
    b"Lambda-Runtime-Deadline-Ms: 1542409706888\r\n"
    b"Lambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:us-east-2:1:function:f\r\n"
    b"Lambda-Runtime-Trace-Id: Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Sampled=1\r\n"
)
EVENT = b'{"rawPath": "/", "body": "x\\r\\n0\\r\\n"}'
# What Go's net/http does with a body it streams: chunked, extensions allowed, trailers allowed.
CHUNKED_NEXT = (
    NEXT_HEAD
    + b"Transfer-Encoding: chunked\r\n\r\n"
    + b"5\r\n"
    + EVENT[:5]
    + b"\r\n"
    + b"%X;name=value\r\n" % (len(EVENT) - 5)
    + EVENT[5:]
    + b"\r\n"
    + b"0\r\nX-Checksum: abc\r\n\r\n"
)
LENGTH_NEXT = NEXT_HEAD + b"Content-Length: %d\r\n\r\n" % len(EVENT) + EVENT
ACCEPTED = (
    b"HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\nContent-Length: 16\r\n\r\n"
    b'{"status": "OK"}'
)


def awaiting() -> RuntimeApiConnection:
    conn = RuntimeApiConnection(HOST)
    conn.send_next()
    return conn


def feed(conn: RuntimeApiConnection, pieces: Sequence[bytes | bytearray]) -> ApiResponse:
    results = [conn.receive(piece) for piece in pieces]
    assert all(r is None for r in results[:-1])
    response = results[-1]
    assert response is not None
    return response


def check_next(response: ApiResponse) -> None:
    assert response.status == 200
    invocation = Invocation.from_response(response)
    assert invocation.request_id == RID
    assert invocation.deadline_ms == 1542409706888
    assert invocation.body == EVENT
    assert type(invocation.body) is bytes
    assert invocation.trace_id == "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Sampled=1"


# --- answers, split anywhere ------------------------------------------------------------------


@pytest.mark.parametrize("answer", [LENGTH_NEXT, CHUNKED_NEXT], ids=["content-length", "chunked"])
def test_next_answer_split_at_every_byte_boundary(answer: bytes) -> None:
    for cut in range(1, len(answer)):
        conn = awaiting()
        check_next(feed(conn, [answer[:cut], answer[cut:]]))
        assert conn.reusable, cut


@pytest.mark.parametrize("answer", [LENGTH_NEXT, CHUNKED_NEXT], ids=["content-length", "chunked"])
def test_next_answer_one_byte_at_a_time_then_keep_alive(answer: bytes) -> None:
    conn = awaiting()
    check_next(feed(conn, [answer[i : i + 1] for i in range(len(answer))]))
    assert conn.reusable
    conn.send_response_head(RID, "application/json", 2)  # the same connection goes on
    response = feed(conn, [ACCEPTED[i : i + 1] for i in range(len(ACCEPTED))])
    assert (response.status, response.body) == (202, b'{"status": "OK"}')
    assert conn.reusable


def test_bytearray_and_bytes_reads_parse_alike() -> None:
    for data in (LENGTH_NEXT, bytearray(LENGTH_NEXT), CHUNKED_NEXT, bytearray(CHUNKED_NEXT)):
        check_next(feed(awaiting(), [data]))


def test_answers_produced_by_h11_in_server_role() -> None:
    """h11 as the Runtime API: Content-Length, chunked with trailers, 204; our parser reads
    them one byte at a time over one keep-alive connection."""
    server = h11.Connection(h11.SERVER)
    conn = RuntimeApiConnection(HOST)
    headers = [
        ("Lambda-Runtime-Aws-Request-Id", RID),
        ("Lambda-Runtime-Deadline-Ms", "1542409706888"),
    ]
    answers: list[tuple[list[Any], bytes]] = [
        ([("Content-Length", str(len(EVENT))), *headers], EVENT),
        ([("Transfer-Encoding", "chunked"), *headers], EVENT),
        ([], b""),  # 204
    ]
    for index, (extra, body) in enumerate(answers):
        server.receive_data(conn.send_next())
        assert isinstance(server.next_event(), h11.Request)
        assert isinstance(server.next_event(), h11.EndOfMessage)
        status = 204 if index == 2 else 200
        wire = server.send(h11.Response(status_code=status, headers=extra)) or b""
        if body:
            wire += server.send(h11.Data(data=body[:7])) or b""
            wire += server.send(h11.Data(data=body[7:])) or b""
        trailers = [("X-Trailer", "t")] if index == 1 else []
        wire += server.send(h11.EndOfMessage(headers=trailers)) or b""
        response = feed(conn, [wire[i : i + 1] for i in range(len(wire))])
        assert (response.status, response.body) == (status, body)
        if body:
            assert response.header("lambda-runtime-aws-request-id") == RID
        assert conn.reusable
        server.start_next_cycle()


def test_informational_answer_is_skipped_and_204_has_no_body() -> None:
    response = feed(awaiting(), [b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n"])
    assert (response.status, response.body) == (204, b"")


def test_body_until_close_completes_at_eof() -> None:
    conn = awaiting()
    assert conn.receive(b"HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: r\r\n\r\n{}") is None
    assert conn.receive(b"[]") is None
    response = conn.receive(b"")
    assert response is not None
    assert response.body == b"{}[]"
    assert not conn.reusable


@pytest.mark.parametrize(
    ("answer", "reusable"),
    [
        (b"HTTP/1.1 202 Accepted\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", False),
        (
            b"HTTP/1.1 202 Accepted\r\nConnection: Keep-Alive, Close\r\nContent-Length: 0\r\n\r\n",
            False,
        ),
        (b"HTTP/1.0 202 Accepted\r\nContent-Length: 0\r\n\r\n", False),
        (b"HTTP/1.0 202 Accepted\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n", True),
        (b"HTTP/1.1 202 Accepted\r\nContent-Length: 2\r\n\r\nokEXTRA", False),  # unsolicited
        (b"HTTP/1.1 202 Accepted\r\nContent-Length: 2, 2\r\ncontent-length: 2\r\n\r\nok", True),
    ],
)
def test_keep_alive_rules(answer: bytes, reusable: bool) -> None:
    conn = awaiting()
    response = conn.receive(answer)
    assert response is not None
    assert response.status == 202
    assert conn.reusable is reusable


def test_repeated_headers_keep_every_pair_and_the_first_value() -> None:
    response = feed(
        awaiting(), [b"HTTP/1.1 200 OK\r\nX-A: 1\r\nx-a: 2\r\nContent-Length: 0\r\n\r\n"]
    )
    assert response.headers == (("x-a", "1"), ("x-a", "2"), ("content-length", "0"))
    assert response.header("X-A") == "1"


# --- malformed answers ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "status_line",
    [
        b"HTTP/2 200 OK",
        b"HTTP/1.1 20 OK",
        b"HTTP/1.1 2000 OK",
        b"HTTP/1.1 200OK",
        b"HTTP/1.1  200 OK",
        b"HTTP/1.1 099 Low",
        b"HTTP/1.1 600 High",
        b"HTTP/1.1 2x0 OK",
        b"http/1.1 200 OK",
        b"ICY 200 OK",
        b"HTTP/1.1 \xb2\xb2\xb2 OK",  # latin-1 superscript digits
        b"",
    ],
)
def test_malformed_status_line_is_a_runtime_api_error(status_line: bytes) -> None:
    conn = awaiting()
    with pytest.raises(RuntimeApiError, match="status line"):
        conn.receive(status_line + b"\r\nContent-Length: 0\r\n\r\n")
    assert conn.phase is Phase.BROKEN
    assert not conn.reusable


@pytest.mark.parametrize(
    ("head", "message"),
    [
        (b"Content-Length: 0\r\nBad Name: x", "header name"),
        (b"Content-Length: 0\r\nName : x", "header name"),
        (b"Content-Length: 0\r\n folded: x", "header name"),
        (b"Content-Length: 0\r\nNoColon", "header line"),
        (b"Content-Length: 0\r\n: empty name", "header line"),
        (b"Content-Length: 0\r\nX-A: 1\nX-B: 2", "bare CR or LF"),
        (b"Content-Length: 0\r\nX-A: 1\rX-B: 2", "bare CR or LF"),
        (b"Content-Length: 0\r\nX-A: a\0b", "control character"),
        (b"Content-Length: 0\r\nX-A: a\x7fb", "control character"),
        (b"Content-Length: abc", "Content-Length"),
        (b"Content-Length: 1\r\nContent-Length: 2", "Content-Length"),
        (b"Content-Length: -1", "Content-Length"),
        (b"Content-Length: 1e3", "Content-Length"),
        (b"Transfer-Encoding: gzip", "Transfer-Encoding"),
        (b"Transfer-Encoding: gzip, chunked", "Transfer-Encoding"),
        (b"Transfer-Encoding: chunked\r\nContent-Length: 3", "both"),
    ],
)
def test_malformed_headers_are_rejected(head: bytes, message: str) -> None:
    conn = awaiting()
    with pytest.raises(RuntimeApiError, match=message):
        conn.receive(b"HTTP/1.1 200 OK\r\n" + head + b"\r\n\r\n")
    assert conn.phase is Phase.BROKEN


def test_oversized_head_is_rejected_even_when_it_trickles_in() -> None:
    conn = awaiting()
    assert conn.receive(b"HTTP/1.1 200 OK\r\n") is None
    line = b"X-Padding: " + b"a" * 1000 + b"\r\n"
    with pytest.raises(RuntimeApiError, match="larger than"):  # noqa: PT012
        for _ in range(protocol.MAX_HEAD // len(line) + 2):
            assert conn.receive(line) is None
    assert conn.phase is Phase.BROKEN
    whole = b"HTTP/1.1 200 OK\r\nX-Padding: " + b"a" * protocol.MAX_HEAD + b"\r\n\r\n"
    with pytest.raises(RuntimeApiError, match="larger than"):
        awaiting().receive(whole)


def test_a_head_just_under_the_limit_is_accepted() -> None:
    padding = b"a" * (protocol.MAX_HEAD - 100)
    response = feed(
        awaiting(), [b"HTTP/1.1 200 OK\r\nX-Padding: " + padding + b"\r\nContent-Length: 0\r\n\r\n"]
    )
    assert response.header("x-padding") == padding.decode()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"zz\r\nab\r\n0\r\n\r\n", "chunk-size"),
        (b"\r\nab\r\n0\r\n\r\n", "chunk-size"),
        (b"-2\r\nab\r\n0\r\n\r\n", "chunk-size"),
        (b"2\r\nabc\r\n0\r\n\r\n", "longer than its size"),
        (b"2\nab\r\n0\r\n\r\n", "chunk-size"),
        (b"1" * 5000, "too long"),
        (b"0\r\nBad Trailer: x\r\n\r\n", "header name"),
        (b"0\r\nX-T: a\nb\r\n\r\n", "bare CR or LF"),
    ],
)
def test_malformed_chunked_bodies_are_rejected(body: bytes, message: str) -> None:
    conn = awaiting()
    with pytest.raises(RuntimeApiError, match=message):
        conn.receive(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + body)
    assert conn.phase is Phase.BROKEN


@pytest.mark.parametrize(
    "partial",
    [b"", b"HTTP/1.1 200 OK\r\nCont", LENGTH_NEXT[:-3], CHUNKED_NEXT[:-10], CHUNKED_NEXT[:-1]],
)
def test_eof_before_the_answer_is_complete(partial: bytes) -> None:
    conn = awaiting()
    if partial:
        assert conn.receive(partial) is None
    with pytest.raises(RuntimeApiError, match="closed the connection"):
        conn.receive(b"")
    assert conn.phase is Phase.BROKEN


def test_bytes_while_idle_break_the_connection() -> None:
    conn = RuntimeApiConnection(HOST)
    with pytest.raises(RuntimeApiError, match="unsolicited"):
        conn.receive(ACCEPTED)
    assert conn.phase is Phase.BROKEN
    with pytest.raises(RuntimeApiError, match="broken"):
        conn.receive(ACCEPTED)


# --- request bytes ---------------------------------------------------------------------------


def test_fast_builders_match_the_generic_one() -> None:
    fast, generic = RuntimeApiConnection(HOST), RuntimeApiConnection(HOST)
    assert fast.send_next() == generic.send_request(protocol.next_invocation())
    for conn in (fast, generic):
        conn.receive(ACCEPTED)
    body = b'{"ok": true}'
    head = fast.send_response_head(RID, "application/json", len(body))
    assert head + body == generic.send_request(protocol.invocation_response(RID, body))
    for conn in (fast, generic):
        conn.receive(ACCEPTED)
    assert fast.send_stream_head(RID) == generic.send_request(protocol.streaming_response(RID))
    assert fast.phase is generic.phase is Phase.STREAMING


def test_an_empty_request_id_is_refused() -> None:
    with pytest.raises(RuntimeApiError, match="request id"):
        RuntimeApiConnection(HOST).send_response_head("", "application/json", 0)
    with pytest.raises(RuntimeApiError, match="request id"):
        RuntimeApiConnection(HOST).send_stream_head("")


@pytest.mark.parametrize(
    ("request_id", "segment"),
    [
        ("a b", "a%20b"),
        ("a/../b", "a%2F..%2Fb"),
        ("a?x=1", "a%3Fx=1"),
        ("a#b", "a%23b"),
        ("a\r\nX: y", "a%0D%0AX:%20y"),
        ("é", "%E9"),  # the byte the header carried (heads are decoded as latin-1)
        ("雪", "%E9%9B%AA"),  # not from a header: UTF-8
        ("50%", "50%25"),
        ("x:y@z+1=2&$", "x:y@z+1=2&$"),
    ],
)
def test_request_ids_are_percent_encoded_into_one_path_segment(
    request_id: str, segment: str
) -> None:
    target = f"/2018-06-01/runtime/invocation/{segment}/response".encode()
    conn = RuntimeApiConnection(HOST)
    head = conn.send_response_head(request_id, "application/json", 0)
    assert head.startswith(b"POST " + target + b" HTTP/1.1\r\n")
    assert parse_as_server(head)[0].target == target
    assert RuntimeApiConnection(HOST).send_stream_head(request_id).startswith(b"POST " + target)
    for request in (
        protocol.invocation_response(request_id, b""),
        protocol.streaming_response(request_id),
    ):
        assert request.target.encode() == target
    error = protocol.invocation_error(request_id, {"errorType": "E"})
    assert error.target.encode() == target.replace(b"/response", b"/error")


@pytest.mark.parametrize(
    ("name", "value"),
    [("X-A", "a\r\nInjected: 1"), ("X-A", " padded"), ("X A", "v"), ("", "v"), ("X-A", "é")],
)
def test_invalid_request_headers_and_trailers_are_refused(name: str, value: str) -> None:
    request = protocol.ApiRequest("POST", f"{protocol.API}/runtime/init/error", ((name, value),))
    conn = RuntimeApiConnection(HOST)
    with pytest.raises(RuntimeApiError, match="cannot send"):
        conn.send_request(request)
    assert conn.phase is Phase.BROKEN
    conn = RuntimeApiConnection(HOST)
    conn.send_stream_head(RID)
    with pytest.raises(RuntimeApiError, match="invalid trailers"):
        conn.end_body(((name, value),))
    assert conn.phase is Phase.BROKEN


def test_invalid_host_is_refused() -> None:
    with pytest.raises(RuntimeApiError):
        RuntimeApiConnection("127.0.0.1:9001\r\nX: y")


def parse_as_server(wire: bytes) -> list[Any]:
    """h11 in server role, fed one byte at a time."""
    server = h11.Connection(h11.SERVER)
    events: list[Any] = []
    for i in range(len(wire)):
        server.receive_data(wire[i : i + 1])
        while (event := server.next_event()) is not h11.NEED_DATA:
            events.append(event)
            if isinstance(event, h11.EndOfMessage):
                return events
    raise AssertionError(f"h11 did not see a whole request in {wire!r}")


def test_h11_parses_a_buffered_response_request() -> None:
    conn = RuntimeApiConnection(HOST)
    body = '{"b": "é"}'.encode()
    events = parse_as_server(conn.send_response_head(RID, "application/json", len(body)) + body)
    request = events[0]
    assert request.method == b"POST"
    assert request.target == f"/2018-06-01/runtime/invocation/{RID}/response".encode()
    assert (b"content-type", b"application/json") in request.headers
    assert b"".join(bytes(e.data) for e in events if isinstance(e, h11.Data)) == body


def test_h11_parses_a_streamed_response_with_real_trailers() -> None:
    conn = RuntimeApiConnection(HOST)
    wire = conn.send_stream_head(RID)
    prelude = protocol.encode_prelude(200, {"content-type": "text/html"}, ["a=b"])
    for data in (prelude, protocol.DELIMITER, b"", b"<p>hello", b"x" * 70000):
        wire += b"".join(conn.send_chunk(data))
    try:
        raise ValueError("late\r\nfailure")
    except ValueError as exc:
        trailers = protocol.error_trailers(protocol.error_payload(exc, RID))
    wire += conn.end_body(trailers)
    assert conn.phase is Phase.AWAITING
    events = parse_as_server(wire)
    request = events[0]
    assert (b"transfer-encoding", b"chunked") in request.headers
    assert (b"lambda-runtime-function-response-mode", b"streaming") in request.headers
    body = b"".join(bytes(e.data) for e in events if isinstance(e, h11.Data))
    assert body == prelude + protocol.DELIMITER + b"<p>hello" + b"x" * 70000
    end = events[-1]
    assert isinstance(end, h11.EndOfMessage)
    assert dict(end.headers)[b"lambda-runtime-function-error-type"] == b"ValueError"
    lines = b"".join(f"{name}: {value}\r\n".encode() for name, value in trailers)
    assert wire.endswith(b"x\r\n0\r\n" + lines + b"\r\n")  # real trailers, not body data


# --- cheap imports ---------------------------------------------------------------------------


def test_stream_attribute_constant_matches_the_stream_module() -> None:
    assert invoke.STREAM_ATTRIBUTE == stream.STREAM_ATTRIBUTE


def test_the_loop_imports_no_heavy_module() -> None:
    code = (
        "import sys\n"
        "before = set(sys.modules)\n"
        "import lambda_isr, lambda_isr.runtime, lambda_isr.runtime.loop\n"
        "import json\n"
        "print(json.dumps(sorted(set(sys.modules) - before)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = set(json.loads(out.stdout))
    heavy = {"typing", "dataclasses", "inspect", "h11", "socket", "base64", "asyncio", "importlib"}
    assert not loaded & heavy
    assert not any(
        m.startswith(("lambda_isr.runtime.stream", "lambda_isr.runtime.writer")) for m in loaded
    )


def test_gathered_write_finishes_a_partial_send() -> None:
    from lambda_isr.runtime.client import RuntimeApiClient  # noqa: PLC0415

    class PartialSocket:
        def __init__(self) -> None:
            self.out = b""

        def sendmsg(self, pieces: Sequence[bytes]) -> int:
            self.out += b"".join(pieces)[:5]
            return 5

        def sendall(self, data: memoryview) -> None:
            self.out += bytes(data)

    sock = PartialSocket()
    pieces = [b"abc", b"", b"defgh", b"ijk"]
    RuntimeApiClient._sendv(sock, pieces)  # type: ignore[arg-type]
    assert sock.out == b"abcdefghijk"
