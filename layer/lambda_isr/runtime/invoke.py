"""Run one invocation through a handler and deliver the result (the handler contract).

1. ``handler.__lambda_isr_stream__(event, context, writer)`` when present: a live writer.
2. Otherwise ``handler(event, context)``; a :class:`StreamingResponse` result is streamed, any
   other result posted as buffered JSON (plain handlers keep working unchanged).

No sockets here: the response goes to a :class:`ResponseSink` (the Runtime API client).
Plain handlers never import :mod:`lambda_isr.runtime.stream` (nor ``typing`` or
``dataclasses`` through it): a result can only be a ``StreamingResponse`` once that module was
imported by the handler, so the check looks it up in ``sys.modules``.
"""

from __future__ import annotations

import json
import logging
import sys
from enum import Enum

from lambda_isr.errors import InvocationFaultError, RuntimeApiError
from lambda_isr.runtime import protocol

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from collections.abc import Callable
    from typing import Any, Protocol

    from lambda_isr.runtime.protocol import ErrorPayload, Invocation
    from lambda_isr.runtime.writer import ResponseWriter

    class ResponseSink(Protocol):
        def open_writer(self, request_id: str) -> ResponseWriter: ...

        def post_response(self, request_id: str, body: bytes, content_type: str) -> None: ...

        def post_error(self, request_id: str, payload: ErrorPayload) -> None: ...


log = logging.getLogger("lambda_isr.runtime")

UNMARSHAL_ERROR = "Runtime.UnmarshalError"
MARSHAL_ERROR = "Runtime.MarshalError"
STREAM_ATTRIBUTE = "__lambda_isr_stream__"  # == lambda_isr.runtime.stream.STREAM_ATTRIBUTE
_STREAM_MODULE = "lambda_isr.runtime.stream"


class Outcome(Enum):
    BUFFERED = "buffered"  # a buffered result was posted
    STREAMED = "streamed"  # a streamed response ended normally
    ERROR = "error"  # /error was posted (nothing had been sent)
    STREAM_ERROR = "stream_error"  # the stream ended with error trailers
    LATE_ERROR = "late_error"  # the handler raised after the response had ended (logged)


_PROCESS_EXITS = (SystemExit, KeyboardInterrupt)


def decode_event(invocation: Invocation) -> Any:
    """The event as the stock runtime gives it: parsed JSON, raw bytes for other types."""
    ctype = invocation.content_type
    if ctype and ctype != "application/json" and ctype.split(";")[0].strip() != "application/json":
        return invocation.body
    try:
        return json.loads(invocation.body)
    except (ValueError, RecursionError) as exc:  # RecursionError: JSON nested too deep
        detail = str(exc) if isinstance(exc, ValueError) else "nested too deeply"
        raise InvocationFaultError(f"Unable to unmarshal input: {detail}", UNMARSHAL_ERROR) from exc


def _json_default(value: object) -> object:
    import decimal  # noqa: PLC0415 - only when a result needs it

    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


# json.dumps() with keyword arguments builds a new JSONEncoder on every call: build it once.
_ENCODER = json.JSONEncoder(ensure_ascii=False, default=_json_default)


def marshal(result: object) -> tuple[bytes, str]:
    if isinstance(result, bytes):
        return result, "application/unknown"
    try:
        text = _ENCODER.encode(result)
    except (TypeError, ValueError, RecursionError) as exc:
        raise InvocationFaultError(f"Unable to marshal response: {exc}", MARSHAL_ERROR) from exc
    return text.encode(), "application/json"


def _payload(exc: BaseException, request_id: str) -> ErrorPayload:
    if isinstance(exc, InvocationFaultError):
        return protocol.fault_payload(str(exc), exc.error_type, request_id)
    return protocol.error_payload(exc, request_id)


def log_error(payload: ErrorPayload) -> None:
    log.error(
        "[%s] %s\n%s", payload["errorType"], payload["errorMessage"], "".join(payload["stackTrace"])
    )


def handle(
    invocation: Invocation,
    handler: Callable[..., Any],
    make_context: Callable[[Invocation], Any],
    sink: ResponseSink,
) -> Outcome:
    """Run ``handler`` for ``invocation``; transport failures raise :class:`RuntimeApiError`."""
    rid = invocation.request_id
    stream_fn = getattr(handler, STREAM_ATTRIBUTE, None)
    if callable(stream_fn):
        return _handle_stream(invocation, stream_fn, make_context, sink)
    try:
        context = make_context(invocation)
        result = handler(decode_event(invocation), context)
        stream = sys.modules.get(_STREAM_MODULE)
        if stream is not None and isinstance(result, stream.StreamingResponse):
            writer = sink.open_writer(rid)
            return drive(lambda: stream.emit(result, writer), writer)
        body, content_type = marshal(result)
    except RuntimeApiError:
        raise
    except BaseException as exc:  # asyncio.CancelledError too: only an exit ends the process
        if isinstance(exc, _PROCESS_EXITS):
            raise
        payload = _payload(exc, rid)
        log_error(payload)
        sink.post_error(rid, payload)
        return Outcome.ERROR
    sink.post_response(rid, body, content_type)
    return Outcome.BUFFERED


def _handle_stream(
    invocation: Invocation,
    stream_fn: Callable[[Any, Any, ResponseWriter], object],
    make_context: Callable[[Invocation], Any],
    sink: ResponseSink,
) -> Outcome:
    rid = invocation.request_id
    try:
        context = make_context(invocation)
        event = decode_event(invocation)
    except Exception as exc:  # anything but an undecodable event: /error, and the loop goes on
        if not isinstance(exc, InvocationFaultError) or exc.error_type != UNMARSHAL_ERROR:
            payload = _payload(exc, rid)
            log_error(payload)
            sink.post_error(rid, payload)
            return Outcome.ERROR
        log.warning("event is not JSON: %s", exc)
        writer = sink.open_writer(rid)
        writer.start(400, {"content-type": "text/plain; charset=utf-8"})
        writer.write("Bad Request: the event is not JSON\n")
        writer.end()
        return Outcome.STREAMED
    writer = sink.open_writer(rid)
    return drive(lambda: stream_fn(event, context, writer), writer)


def drive(action: Callable[[], object], writer: ResponseWriter) -> Outcome:
    """Run ``action`` against a live ``writer``; end it or report the failure the right way."""
    try:
        action()
    except BaseException as exc:  # asyncio.CancelledError too: only an exit ends the process
        if isinstance(exc, _PROCESS_EXITS):
            raise
        if isinstance(exc, RuntimeApiError) and writer.finished:
            raise  # the transport broke under the writer: the loop reconnects
        payload = protocol.error_payload(exc)
        log_error(payload)
        if writer.finished:
            return Outcome.LATE_ERROR
        before_head = not writer.started
        writer.fail(exc)
        return Outcome.ERROR if before_head else Outcome.STREAM_ERROR
    if not writer.finished:
        writer.end()
    return Outcome.STREAMED
