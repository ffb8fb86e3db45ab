"""The Runtime API conversation, byte for byte, with no sockets."""

from __future__ import annotations

import base64
import json

import pytest

from lambda_isr.errors import ResponseStateError, RuntimeApiError
from lambda_isr.runtime import protocol
from lambda_isr.runtime.connection import Phase, RuntimeApiConnection
from lambda_isr.runtime.protocol import ApiResponse, Invocation

HOST = "127.0.0.1:9001"


def conn() -> RuntimeApiConnection:
    return RuntimeApiConnection(HOST)


def test_next_request_bytes() -> None:
    assert conn().send_request(protocol.next_invocation()) == (
        b"GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\n"
        b"Host: 127.0.0.1:9001\r\nUser-Agent: lambda-isr/0.1\r\n\r\n"
    )


def test_buffered_response_bytes() -> None:
    request = protocol.invocation_response("abc", b'{"a":1}')
    assert conn().send_request(request) == (
        b"POST /2018-06-01/runtime/invocation/abc/response HTTP/1.1\r\n"
        b"Host: 127.0.0.1:9001\r\nUser-Agent: lambda-isr/0.1\r\n"
        b"Content-Type: application/json\r\nContent-Length: 7\r\n\r\n"
        b'{"a":1}'
    )


def test_streamed_response_bytes() -> None:
    c = conn()
    head = c.send_request(protocol.streaming_response("abc"))
    assert head == (
        b"POST /2018-06-01/runtime/invocation/abc/response HTTP/1.1\r\n"
        b"Host: 127.0.0.1:9001\r\nUser-Agent: lambda-isr/0.1\r\n"
        b"Lambda-Runtime-Function-Response-Mode: streaming\r\n"
        b"Transfer-Encoding: chunked\r\n"
        b"Content-Type: application/vnd.awslambda.http-integration-response\r\n"
        b"Trailer: Lambda-Runtime-Function-Error-Type, Lambda-Runtime-Function-Error-Body\r\n"
        b"\r\n"
    )
    assert c.phase is Phase.STREAMING
    prelude = protocol.encode_prelude(200, {"content-type": "text/html"}, [])
    assert prelude == b'{"statusCode":200,"headers":{"content-type":"text/html"},"cookies":[]}'
    assert b"".join(c.send_chunk(prelude)) == b"%x\r\n" % len(prelude) + prelude + b"\r\n"
    assert b"".join(c.send_chunk(protocol.DELIMITER)) == b"8\r\n" + b"\0" * 8 + b"\r\n"
    assert c.send_chunk(b"") == []  # never a zero-size chunk: it would terminate the body
    assert b"".join(c.send_chunk(b"x" * 26)) == b"1a\r\n" + b"x" * 26 + b"\r\n"
    assert c.end_body() == b"0\r\n\r\n"
    assert c.phase.value == "awaiting"


def test_error_trailers_bytes_and_payload() -> None:
    try:
        raise ValueError("boom\r\nInjected: header")
    except ValueError as exc:
        payload = protocol.error_payload(exc, "rid")
    trailers = protocol.error_trailers(payload)
    c = conn()
    c.send_request(protocol.streaming_response("abc"))
    end = c.end_body(trailers)
    assert end.startswith(b"0\r\nLambda-Runtime-Function-Error-Type: ValueError\r\n")
    assert end.endswith(b"\r\n\r\n")
    assert end.count(b"\r\n") == 4  # the CR/LF in the message stays inside base64
    encoded = dict(trailers)["Lambda-Runtime-Function-Error-Body"]
    body = json.loads(base64.b64decode(encoded))
    assert body["errorType"] == "ValueError"
    assert body["errorMessage"] == "boom\r\nInjected: header"
    assert any("test_error_trailers" in line for line in body["stackTrace"])


def test_error_type_is_cleaned() -> None:
    assert protocol.clean_error_type("Bad\r\nType") == "BadType"
    assert protocol.clean_error_type("\r\n") == protocol.STREAM_ERROR
    request = protocol.invocation_error("r", {"errorType": "X\nY", "errorMessage": "m"})
    assert (protocol.ERROR_TYPE_HEADER, "XY") in request.headers


def test_init_error_request() -> None:
    request = protocol.init_error(protocol.fault_payload("nope", "Runtime.ImportModuleError"))
    assert request.target == "/2018-06-01/runtime/init/error"
    assert dict(request.headers)[protocol.ERROR_TYPE_HEADER] == "Runtime.ImportModuleError"
    assert json.loads(request.body or b"") == {
        "errorMessage": "nope",
        "errorType": "Runtime.ImportModuleError",
        "stackTrace": [],
    }


NEXT_ANSWER = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
    b"Lambda-Runtime-Aws-Request-Id: 8476a536\r\nLambda-Runtime-Deadline-Ms: 1542409706888\r\n"
    b"Lambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:us-east-2:1:function:f\r\n"
    b"Lambda-Runtime-Trace-Id: Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Sampled=1\r\n"
    b"Lambda-Runtime-Client-Context: {}\r\n"
)


@pytest.mark.parametrize(
    "framing",
    [
        b'Content-Length: 11\r\n\r\n{"a": "bc"}',
        b'Transfer-Encoding: chunked\r\n\r\n4\r\n{"a"\r\n7\r\n: "bc"}\r\n0\r\n\r\n',
    ],
    ids=["content-length", "chunked"],
)
def test_next_answer_parsed_one_byte_at_a_time(framing: bytes) -> None:
    c = conn()
    c.send_request(protocol.next_invocation())
    data = NEXT_ANSWER + framing
    results = [c.receive(data[i : i + 1]) for i in range(len(data))]
    assert all(r is None for r in results[:-1])
    response = results[-1]
    assert isinstance(response, ApiResponse)
    invocation = Invocation.from_response(response)
    assert invocation == Invocation(
        request_id="8476a536",
        deadline_ms=1542409706888,
        invoked_function_arn="arn:aws:lambda:us-east-2:1:function:f",
        body=b'{"a": "bc"}',
        trace_id="Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Sampled=1",
        client_context="{}",
        content_type="application/json",
    )
    assert c.reusable  # keep-alive: ready for the next request


def test_connection_close_is_not_reusable_and_eof_is_an_error() -> None:
    c = conn()
    c.send_request(protocol.next_invocation())
    response = c.receive(b"HTTP/1.1 202 Accepted\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
    assert response is not None
    assert response.status == 202
    assert not c.reusable
    c2 = conn()
    c2.send_request(protocol.next_invocation())
    with pytest.raises(RuntimeApiError):
        c2.receive(b"")
    assert c2.phase is Phase.BROKEN


def test_next_answer_without_request_id_is_rejected() -> None:
    with pytest.raises(RuntimeApiError, match="Request-Id"):
        Invocation.from_response(ApiResponse(200, (), b"{}"))
    with pytest.raises(RuntimeApiError, match="500"):
        Invocation.from_response(ApiResponse(500, (), b""))


def test_out_of_order_calls_raise() -> None:
    c = conn()
    with pytest.raises(ResponseStateError):
        c.send_chunk(b"x")
    c.send_request(protocol.next_invocation())
    with pytest.raises(ResponseStateError):
        c.send_request(protocol.next_invocation())
