"""The Lambda Runtime API conversation as values and bytes, with no I/O.

Requests are :class:`ApiRequest` values built by small functions (the hot ones from pre-encoded
parts); answers are :class:`ApiResponse` values; :class:`Invocation` is what ``/next`` says.
:class:`~lambda_isr.runtime.connection.RuntimeApiConnection` turns requests into bytes and parses
the answers; the socket loop in :mod:`lambda_isr.runtime.client` owns the socket. Both modules are
tested byte for byte (``h11`` parses their output independently in the tests).

Import cost matters here (every cold start pays it): no ``typing``, no ``dataclasses``; ``base64``
and ``traceback`` are imported on the error paths only.
"""

from __future__ import annotations

import json
import os

from lambda_isr.errors import ResponseStateError, RuntimeApiError

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from collections.abc import Mapping, Sequence
    from typing import Any, TypeAlias

    Headers: TypeAlias = tuple[tuple[str, str], ...]
    ErrorPayload: TypeAlias = dict[str, Any]
else:
    Headers = tuple
    ErrorPayload = dict

API = "/2018-06-01"
ERROR_TYPE_HEADER = "Lambda-Runtime-Function-Error-Type"
ERROR_BODY_HEADER = "Lambda-Runtime-Function-Error-Body"
RESPONSE_MODE_HEADER = "Lambda-Runtime-Function-Response-Mode"
STREAM_CONTENT_TYPE = "application/vnd.awslambda.http-integration-response"
DELIMITER = b"\0" * 8
USER_AGENT = "lambda-isr/0.1"
STREAM_ERROR = "Function.StreamError"
MAX_HEAD = 64 * 1024  # status line + headers (and a trailer section), CRLFs included
MAX_CHUNK_LINE = 4096  # a chunk-size line with its extensions
_MAX_ERROR_MESSAGE = 4096
_MAX_FRAMES = 50
_RUNTIME_DIR = os.path.dirname(os.path.abspath(__file__))

# RFC 9110 token characters; bytes.translate(None, _TOKEN) leaves b"" for a valid token.
_TOKEN = b"!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_HEX = b"0123456789abcdefABCDEF"
# Control bytes never allowed in a head (CR and LF are checked separately, HTAB is allowed).
_CTL = bytes([*range(0x09), *range(0x0A, 0x20), 0x7F]).replace(b"\r", b"").replace(b"\n", b"")
# Bytes a request id keeps as they are in a path segment: RFC 3986 unreserved plus "$&+:=@",
# the set Go's url.PathEscape (the Runtime API's language) leaves alone.
_SEGMENT = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~$&+:=@")


class ApiRequest:
    """One request to the Runtime API. ``body=None`` means a chunked (streamed) body follows."""

    __slots__ = ("body", "headers", "method", "target")

    def __init__(
        self, method: str, target: str, headers: Headers = (), body: bytes | None = b""
    ) -> None:
        self.method = method
        self.target = target
        self.headers = headers
        self.body = body

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ApiRequest):
            return NotImplemented
        return (self.method, self.target, self.headers, self.body) == (
            other.method,
            other.target,
            other.headers,
            other.body,
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return (
            f"ApiRequest(method={self.method!r}, target={self.target!r}, "
            f"headers={self.headers!r}, body={self.body!r})"
        )


class ApiResponse:
    """A complete answer from the Runtime API (header names lowercased).

    ``fields`` maps each lowercased name to its first value, for cheap lookups.
    """

    __slots__ = ("body", "fields", "headers", "status")

    def __init__(
        self, status: int, headers: Headers, body: bytes, fields: dict[str, str] | None = None
    ) -> None:
        self.status = status
        self.headers = headers
        self.body = body
        if fields is None:
            fields = {}
            for key, value in headers:
                fields.setdefault(key.lower(), value)
        self.fields = fields

    def header(self, name: str) -> str | None:
        return self.fields.get(name.lower())

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def __repr__(self) -> str:
        return f"ApiResponse(status={self.status!r}, headers={self.headers!r}, body={self.body!r})"


_INVOCATION_FIELDS = (
    "request_id",
    "deadline_ms",
    "invoked_function_arn",
    "body",
    "trace_id",
    "client_context",
    "cognito_identity",
    "tenant_id",
    "content_type",
)


class Invocation:
    """One event from ``GET /runtime/invocation/next``."""

    __slots__ = _INVOCATION_FIELDS

    def __init__(  # noqa: PLR0917 - positional like the dataclass it replaces
        self,
        request_id: str,
        deadline_ms: int,
        invoked_function_arn: str,
        body: bytes,
        trace_id: str | None = None,
        client_context: str | None = None,
        cognito_identity: str | None = None,
        tenant_id: str | None = None,
        content_type: str | None = "application/json",
    ) -> None:
        self.request_id = request_id
        self.deadline_ms = deadline_ms
        self.invoked_function_arn = invoked_function_arn
        self.body = body
        self.trace_id = trace_id
        self.client_context = client_context
        self.cognito_identity = cognito_identity
        self.tenant_id = tenant_id
        self.content_type = content_type

    def _values(self) -> tuple[object, ...]:
        return tuple(getattr(self, name) for name in _INVOCATION_FIELDS)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Invocation):
            return NotImplemented
        return self._values() == other._values()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        inner = ", ".join(f"{name}={getattr(self, name)!r}" for name in _INVOCATION_FIELDS)
        return f"Invocation({inner})"

    @classmethod
    def from_response(cls, response: ApiResponse) -> Invocation:
        if response.status != 200:
            raise RuntimeApiError(f"/next answered {response.status}: {response.body[:200]!r}")
        get = response.fields.get
        request_id = get("lambda-runtime-aws-request-id")
        if not request_id:
            raise RuntimeApiError("/next answered without Lambda-Runtime-Aws-Request-Id")
        deadline = get("lambda-runtime-deadline-ms") or "0"
        return cls(
            request_id,
            int(deadline) if deadline.isdigit() else 0,
            get("lambda-runtime-invoked-function-arn") or "",
            response.body,
            get("lambda-runtime-trace-id"),
            get("lambda-runtime-client-context"),
            get("lambda-runtime-cognito-identity"),
            get("lambda-runtime-aws-tenant-id"),
            get("content-type"),
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
        f"{API}/runtime/invocation/{_quote_id(request_id)}/response",
        (("Content-Type", content_type),),
        body,
    )


_STREAM_HEADERS: Headers = (
    (RESPONSE_MODE_HEADER, "streaming"),
    ("Transfer-Encoding", "chunked"),
    ("Content-Type", STREAM_CONTENT_TYPE),
    ("Trailer", f"{ERROR_TYPE_HEADER}, {ERROR_BODY_HEADER}"),
)


def streaming_response(request_id: str) -> ApiRequest:
    """The head of a streamed response; the body is sent chunk by chunk."""
    return ApiRequest(
        "POST", f"{API}/runtime/invocation/{_quote_id(request_id)}/response", _STREAM_HEADERS, None
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
    target = f"{API}/runtime/invocation/{_quote_id(request_id)}/error"
    return _error_request(target, payload, None)


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
    import traceback  # noqa: PLC0415 - error path only

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
    import base64  # noqa: PLC0415 - error path only

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


# --- request bytes -------------------------------------------------------------------------


def _quote_id(request_id: str) -> str:
    """A request id as one path segment of a request target: the usual UUID as it is, anything
    else percent-encoded (RFC 3986), so ``/``, a space, ``?``, ``%`` or non-ASCII can never
    change the target and every invocation can be answered. Non-ASCII is encoded from the bytes
    the header carried (the connection decodes heads as latin-1). Only an empty id is refused.
    """
    if request_id.isascii() and request_id.replace("-", "").isalnum():
        return request_id
    if not request_id:
        raise RuntimeApiError("invalid request id ''")
    try:
        raw = request_id.encode("latin-1")
    except UnicodeEncodeError:  # not from a header: its UTF-8 bytes
        raw = request_id.encode("utf-8", "surrogatepass")
    return "".join(chr(byte) if byte in _SEGMENT else f"%{byte:02X}" for byte in raw)


def _check_target(target: str) -> None:
    if not target.startswith("/") or not target.isascii() or not target.isprintable():
        raise RuntimeApiError(f"invalid request target {target[:200]!r}")
    if " " in target:
        raise RuntimeApiError(f"invalid request target {target[:200]!r}")


def _header_line(name: str, value: str) -> str:
    """``name: value\\r\\n`` after checking both (token name; visible ASCII, SP, HTAB value)."""
    raw = name.encode("latin-1", "replace")
    if not raw or raw.translate(None, _TOKEN):
        raise RuntimeApiError(f"invalid header name {name[:100]!r}")
    if not value.isascii() or value != value.strip(" \t"):
        raise RuntimeApiError(f"invalid value for header {name}: {value[:100]!r}")
    encoded = value.encode("ascii")
    if "\r" in value or "\n" in value or encoded.translate(None, _CTL) != encoded:
        raise RuntimeApiError(f"invalid value for header {name}: {value[:100]!r}")
    return f"{name}: {value}\r\n"
