"""The Lambda Runtime API conversation as values and bytes, with no I/O.

Requests are :class:`ApiRequest` values built by small functions; :class:`RuntimeApiConnection`
turns them into bytes and parses the answers (``h11`` does the HTTP/1.1 framing, including the
trailers of a streamed response). The socket loop in :mod:`lambda_isr.runtime.client` owns the
socket; this module owns the rules and is tested byte for byte.
"""

from __future__ import annotations

import base64
import json
import os
import traceback
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any

import h11

from lambda_isr.errors import ResponseStateError, RuntimeApiError

API = "/2018-06-01"
ERROR_TYPE_HEADER = "Lambda-Runtime-Function-Error-Type"
ERROR_BODY_HEADER = "Lambda-Runtime-Function-Error-Body"
RESPONSE_MODE_HEADER = "Lambda-Runtime-Function-Response-Mode"
STREAM_CONTENT_TYPE = "application/vnd.awslambda.http-integration-response"
DELIMITER = b"\0" * 8
USER_AGENT = "lambda-isr/0.1"
STREAM_ERROR = "Function.StreamError"
_MAX_ERROR_MESSAGE = 4096
_MAX_FRAMES = 50
_RUNTIME_DIR = os.path.dirname(os.path.abspath(__file__))

Headers = tuple[tuple[str, str], ...]
ErrorPayload = dict[str, Any]


@dataclass(frozen=True, slots=True)
class ApiRequest:
    """One request to the Runtime API. ``body=None`` means a chunked (streamed) body follows."""

    method: str
    target: str
    headers: Headers = ()
    body: bytes | None = b""


@dataclass(frozen=True, slots=True)
class ApiResponse:
    """A complete answer from the Runtime API (header names lowercased)."""

    status: int
    headers: Headers
    body: bytes

    def header(self, name: str) -> str | None:
        wanted = name.lower()
        for key, value in self.headers:
            if key == wanted:
                return value
        return None

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


@dataclass(frozen=True, slots=True)
class Invocation:
    """One event from ``GET /runtime/invocation/next``."""

    request_id: str
    deadline_ms: int
    invoked_function_arn: str
    body: bytes
    trace_id: str | None = None
    client_context: str | None = None
    cognito_identity: str | None = None
    tenant_id: str | None = None
    content_type: str | None = "application/json"

    @classmethod
    def from_response(cls, response: ApiResponse) -> Invocation:
        if response.status != 200:
            raise RuntimeApiError(f"/next answered {response.status}: {response.body[:200]!r}")
        request_id = response.header("Lambda-Runtime-Aws-Request-Id")
        if not request_id:
            raise RuntimeApiError("/next answered without Lambda-Runtime-Aws-Request-Id")
        deadline = response.header("Lambda-Runtime-Deadline-Ms") or "0"
        return cls(
            request_id=request_id,
            deadline_ms=int(deadline) if deadline.isdigit() else 0,
            invoked_function_arn=response.header("Lambda-Runtime-Invoked-Function-Arn") or "",
            body=response.body,
            trace_id=response.header("Lambda-Runtime-Trace-Id"),
            client_context=response.header("Lambda-Runtime-Client-Context"),
            cognito_identity=response.header("Lambda-Runtime-Cognito-Identity"),
            tenant_id=response.header("Lambda-Runtime-Aws-Tenant-Id"),
            content_type=response.header("Content-Type"),
        )


# --- requests ------------------------------------------------------------------------------


def next_invocation() -> ApiRequest:
    return ApiRequest("GET", f"{API}/runtime/invocation/next")


def restore_next() -> ApiRequest:
    return ApiRequest("GET", f"{API}/runtime/restore/next")


def invocation_response(
    request_id: str, body: bytes, content_type: str = "application/json"
) -> ApiRequest:
    return ApiRequest(
        "POST",
        f"{API}/runtime/invocation/{request_id}/response",
        (("Content-Type", content_type),),
        body,
    )


def streaming_response(request_id: str) -> ApiRequest:
    """The head of a streamed response; the body is sent chunk by chunk."""
    return ApiRequest(
        "POST",
        f"{API}/runtime/invocation/{request_id}/response",
        (
            (RESPONSE_MODE_HEADER, "streaming"),
            ("Transfer-Encoding", "chunked"),
            ("Content-Type", STREAM_CONTENT_TYPE),
            ("Trailer", f"{ERROR_TYPE_HEADER}, {ERROR_BODY_HEADER}"),
        ),
        None,
    )


def _error_request(target: str, payload: ErrorPayload, error_type: str | None) -> ApiRequest:
    kind = clean_error_type(error_type or str(payload.get("errorType") or ""))
    return ApiRequest(
        "POST",
        target,
        ((ERROR_TYPE_HEADER, kind), ("Content-Type", "application/json")),
        json.dumps(payload, ensure_ascii=False, default=str).encode(),
    )


def invocation_error(request_id: str, payload: ErrorPayload) -> ApiRequest:
    return _error_request(f"{API}/runtime/invocation/{request_id}/error", payload, None)


def init_error(payload: ErrorPayload, error_type: str | None = None) -> ApiRequest:
    return _error_request(f"{API}/runtime/init/error", payload, error_type)


def restore_error(payload: ErrorPayload) -> ApiRequest:
    return _error_request(f"{API}/runtime/restore/error", payload, "Runtime.AfterRestoreError")


# --- payloads ------------------------------------------------------------------------------


def clean_error_type(name: str) -> str:
    """An error type safe for a header: visible ASCII without separators, never empty."""
    cleaned = "".join(c for c in name if c.isascii() and (c.isalnum() or c in "._-"))
    return cleaned[:200] or STREAM_ERROR


def error_payload(
    exc: BaseException, request_id: str | None = None, error_type: str | None = None
) -> ErrorPayload:
    """``{"errorMessage", "errorType", "stackTrace", "requestId"}`` like awslambdaric.

    Leading frames inside the runtime package are dropped so the trace starts in user code.
    """
    frames = traceback.extract_tb(exc.__traceback__)
    start = 0
    while start < len(frames) - 1 and frames[start].filename.startswith(_RUNTIME_DIR):
        start += 1
    payload: ErrorPayload = {
        "errorMessage": str(exc)[:_MAX_ERROR_MESSAGE],
        "errorType": error_type or type(exc).__name__,
        "stackTrace": traceback.format_list(frames[start:][-_MAX_FRAMES:]),
    }
    if request_id is not None:
        payload["requestId"] = request_id
    return payload


def fault_payload(message: str, error_type: str, request_id: str | None = None) -> ErrorPayload:
    payload: ErrorPayload = {"errorMessage": message, "errorType": error_type, "stackTrace": []}
    if request_id is not None:
        payload["requestId"] = request_id
    return payload


def error_trailers(payload: ErrorPayload) -> Headers:
    """The trailers that report a failure after the first body byte."""
    body = {k: payload.get(k) for k in ("errorType", "errorMessage", "stackTrace")}
    encoded = base64.b64encode(json.dumps(body, ensure_ascii=False, default=str).encode())
    return (
        (ERROR_TYPE_HEADER, clean_error_type(str(payload.get("errorType") or ""))),
        (ERROR_BODY_HEADER, encoded.decode("ascii")),
    )


def encode_prelude(status: int, headers: Mapping[str, str], cookies: Sequence[str]) -> bytes:
    """The JSON prelude (already validated by ``normalise_head``): all three keys, always."""
    prelude = json.dumps(
        {"statusCode": status, "headers": dict(headers), "cookies": list(cookies)},
        ensure_ascii=False,
        separators=(",", ":"),
    ).encode()
    if b"\0" in prelude:  # pragma: no cover - normalise_head rejects NUL already
        raise ResponseStateError("the prelude must not contain a NUL byte")
    return prelude


# --- the connection ------------------------------------------------------------------------


class Phase(Enum):
    IDLE = "idle"
    STREAMING = "streaming"
    AWAITING = "awaiting"
    BROKEN = "broken"


class RuntimeApiConnection:
    """One keep-alive HTTP/1.1 connection to the Runtime API, as bytes in and bytes out."""

    def __init__(self, host: str) -> None:
        self._host = host
        self._h11 = h11.Connection(h11.CLIENT)
        self._phase = Phase.IDLE
        self._status = 0
        self._headers: Headers = ()
        self._body: list[bytes] = []

    @property
    def phase(self) -> Phase:
        return self._phase

    @property
    def reusable(self) -> bool:
        return self._phase is Phase.IDLE

    def send_request(self, request: ApiRequest) -> bytes:
        """Bytes of a whole request, or of the head only when ``request.body is None``."""
        self._expect(Phase.IDLE)
        headers = [("Host", self._host), ("User-Agent", USER_AGENT), *request.headers]
        if request.body is not None and request.method != "GET":
            headers.append(("Content-Length", str(len(request.body))))
        try:
            out = self._h11.send(
                h11.Request(method=request.method, target=request.target, headers=headers)
            )
            if request.body is None and request.method != "GET":
                self._phase = Phase.STREAMING
                return out or b""
            if request.body:
                out = (out or b"") + (self._h11.send(h11.Data(data=request.body)) or b"")
            out = (out or b"") + (self._h11.send(h11.EndOfMessage()) or b"")
        except h11.LocalProtocolError as exc:
            self._phase = Phase.BROKEN
            raise RuntimeApiError(f"cannot send {request.method} {request.target}: {exc}") from exc
        self._phase = Phase.AWAITING
        return out

    def send_chunk(self, data: bytes) -> list[bytes]:
        """The framing pieces of one body chunk (``[]`` for empty data: never a 0-size chunk)."""
        self._expect(Phase.STREAMING)
        if not data:
            return []
        return list(self._h11.send_with_data_passthrough(h11.Data(data=data)) or [])

    def end_body(self, trailers: Headers = ()) -> bytes:
        """The terminating chunk, with trailers when given."""
        self._expect(Phase.STREAMING)
        try:
            out = self._h11.send(h11.EndOfMessage(headers=list(trailers)))
        except h11.LocalProtocolError as exc:
            self._phase = Phase.BROKEN
            raise RuntimeApiError(f"invalid trailers: {exc}") from exc
        self._phase = Phase.AWAITING
        return out or b""

    def receive(self, data: bytes) -> ApiResponse | None:
        """Feed bytes read from the socket (``b""`` at EOF); the response once complete."""
        try:
            self._h11.receive_data(data)
            while True:
                event = self._h11.next_event()
                if event is h11.NEED_DATA:
                    return None
                if isinstance(event, h11.Response):
                    self._status = event.status_code
                    self._headers = tuple(
                        (k.decode("latin-1").lower(), v.decode("latin-1")) for k, v in event.headers
                    )
                elif isinstance(event, h11.Data):
                    self._body.append(bytes(event.data))
                elif isinstance(event, h11.EndOfMessage):
                    return self._complete()
                elif isinstance(event, h11.ConnectionClosed):
                    raise RuntimeApiError("the Runtime API closed the connection")
        except h11.ProtocolError as exc:
            self._phase = Phase.BROKEN
            raise RuntimeApiError(f"bad answer from the Runtime API: {exc}") from exc
        except RuntimeApiError:
            self._phase = Phase.BROKEN
            raise

    def _complete(self) -> ApiResponse:
        response = ApiResponse(self._status, self._headers, b"".join(self._body))
        self._body = []
        if self._h11.our_state is h11.DONE and self._h11.their_state is h11.DONE:
            self._h11.start_next_cycle()
            self._phase = Phase.IDLE
        else:
            self._phase = Phase.BROKEN
        return response

    def _expect(self, phase: Phase) -> None:
        if self._phase is not phase:
            raise ResponseStateError(f"connection is {self._phase.value}, expected {phase.value}")
