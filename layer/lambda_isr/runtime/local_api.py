"""An in-process Lambda Runtime API on 127.0.0.1 for tests, ``lambda-isr invoke``, the dev server.

It serves queued events on ``/next`` with realistic headers and parses every request with its own
small HTTP/1.1 reader (independent of the runtime's ``h11``): each chunk of a streamed response is
recorded with its arrival time and published at once to the invocation's event queue::

    with LocalRuntimeApi() as api:
        pending = api.enqueue({"rawPath": "/"})
        ...  # run a runtime against api.address
        for event in pending.stream():   # Prelude, RecordedChunk..., StreamEnd
            ...
"""

from __future__ import annotations

import contextlib
import json
import queue
import socket
import socketserver
import threading
import time
import uuid
from collections.abc import Mapping
from typing import Any, Self

from lambda_isr.runtime.recording import (
    BufferedResult,
    InvocationErrorEvent,
    PendingInvocation,
    RecordedRequest,
    StreamBroken,
    StreamDecoder,
    StreamEnd,
    WireChunk,
    decode_error_trailers,
)

FUNCTION_ARN = "arn:aws:lambda:us-east-1:123456789012:function:lambda-isr-local"
_MAX_LINE = 64 * 1024


class _BadRequestError(Exception):
    pass


class LocalRuntimeApi:
    """A threaded fake of the Runtime API. Stops by itself (daemon threads, context manager)."""

    def __init__(self, *, default_timeout_ms: int = 900_000) -> None:
        self.default_timeout_ms = default_timeout_ms
        self._queue: queue.Queue[PendingInvocation] = queue.Queue()
        self.invocations: dict[str, PendingInvocation] = {}
        self.requests: list[RecordedRequest] = []
        self.init_errors: list[tuple[str | None, dict[str, Any]]] = []
        self.restore_errors: list[tuple[str | None, dict[str, Any]]] = []
        self.protocol_errors: list[str] = []
        self.restore_calls = 0
        self.keep_requests = True
        self._stopping = threading.Event()
        self._conns: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.api = self
        self._thread: threading.Thread | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> Self:
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self.drop_connections()
        if self._thread is not None:
            self._thread.join(5)

    def drop_connections(self) -> None:
        """Close every accepted connection (as a restarted API would)."""
        with self._lock:
            for conn in list(self._conns):
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def enqueue(
        self,
        event: Any,
        *,
        request_id: str | None = None,
        deadline_ms: int | None = None,
        trace_id: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> PendingInvocation:
        """Queue an event (bytes are sent as they are, anything else as JSON).

        ``trace_id=None`` generates a realistic one; ``""`` sends none.
        """
        rid = request_id or str(uuid.uuid4())
        body = event if isinstance(event, bytes) else json.dumps(event).encode()
        deadline = deadline_ms or int(time.time() * 1000) + self.default_timeout_ms
        if trace_id is None:
            root = f"1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]}"
            trace_id = f"Root={root};Parent={uuid.uuid4().hex[:16]};Sampled=0"
        out = {
            "Content-Type": "application/json",
            "Lambda-Runtime-Aws-Request-Id": rid,
            "Lambda-Runtime-Deadline-Ms": str(deadline),
            "Lambda-Runtime-Invoked-Function-Arn": FUNCTION_ARN,
        }
        if trace_id:
            out["Lambda-Runtime-Trace-Id"] = trace_id
        out.update(headers or {})
        pending = PendingInvocation(rid, body, out)
        with self._lock:
            self.invocations[rid] = pending
        self._queue.put(pending)
        return pending

    # --- used by the handler thread ------------------------------------------------------------

    def _next_event(self) -> PendingInvocation | None:
        while not self._stopping.is_set():
            try:
                return self._queue.get(timeout=0.05)
            except queue.Empty:
                continue
        return None


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    block_on_close = False
    api: LocalRuntimeApi


class _Handler(socketserver.StreamRequestHandler):
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self.server.api._lock:
            self.server.api._conns.add(self.connection)

    def finish(self) -> None:
        with self.server.api._lock:
            self.server.api._conns.discard(self.connection)
        with contextlib.suppress(OSError):  # the peer may have vanished
            super().finish()

    def handle(self) -> None:
        api = self.server.api
        while not api._stopping.is_set():
            try:
                if not self._one_request(api):
                    return
            except (OSError, _BadRequestError, ValueError) as exc:
                if not isinstance(exc, OSError):
                    api.protocol_errors.append(str(exc))
                    self._answer(400, {"errorMessage": str(exc), "errorType": "BadRequest"})
                return

    # --- a strict little HTTP/1.1 reader -------------------------------------------------------

    def _line(self, raw: bytearray) -> bytes:
        line = self.rfile.readline(_MAX_LINE)
        raw += line
        if not line.endswith(b"\r\n"):
            raise _BadRequestError(f"line not terminated by CRLF: {line[:80]!r}")
        return line[:-2]

    def _fields(self, raw: bytearray) -> list[tuple[str, str]]:
        fields = []
        while line := self._line(raw):
            name, sep, value = line.decode("latin-1").partition(":")
            if not sep or not name or name != name.strip():
                raise _BadRequestError(f"malformed header line {line[:80]!r}")
            fields.append((name, value.strip()))
        return fields

    def _one_request(self, api: LocalRuntimeApi) -> bool:
        raw = bytearray()
        first = self.rfile.readline(_MAX_LINE)
        if not first:
            return False
        started = time.monotonic()
        raw += first
        method, target, version = first.decode("latin-1").rstrip("\r\n").split(" ")
        if version != "HTTP/1.1":
            raise _BadRequestError(f"unsupported version {version}")
        headers = self._fields(raw)
        lower = {k.lower(): v for k, v in headers}
        pending = self._pending_for(api, target)
        decoder = StreamDecoder()
        chunks: list[WireChunk] = []
        trailers: list[tuple[str, str]] = []
        chunked = lower.get("transfer-encoding", "").lower() == "chunked"
        streaming = lower.get("lambda-runtime-function-response-mode") == "streaming"
        if chunked:
            while True:
                size_line = self._line(raw).decode("latin-1")
                size = int(size_line.split(";")[0], 16)
                if size == 0:
                    trailers = self._fields(raw)
                    break
                data = self.rfile.read(size)
                raw += data
                if len(data) != size:
                    raise _BadRequestError("connection closed inside a chunk")
                at = time.monotonic()
                chunks.append(WireChunk(data, at))
                if self._line(raw):
                    raise _BadRequestError("chunk data longer than its size")
                if pending is not None and streaming and not pending.done:
                    try:
                        for event in decoder.feed(data, at):
                            pending.publish(event)
                    except ValueError as exc:
                        pending.publish(StreamBroken(f"bad prelude: {exc}", at))
            body = b"".join(c.data for c in chunks)
        else:
            body = self.rfile.read(int(lower.get("content-length", "0")))
            raw += body
        record = RecordedRequest(
            method, target, tuple(headers), body, chunked, tuple(chunks), tuple(trailers),
            bytes(raw) if api.keep_requests else b"", started, time.monotonic(),
        )  # fmt: skip
        if api.keep_requests:
            api.requests.append(record)
        return self._route(api, record, pending, decoder, streaming)

    def _pending_for(self, api: LocalRuntimeApi, target: str) -> PendingInvocation | None:
        parts = target.split("/")
        if len(parts) == 6 and parts[3] == "invocation" and parts[4] != "next":
            return api.invocations.get(parts[4])
        return None

    def _route(
        self,
        api: LocalRuntimeApi,
        record: RecordedRequest,
        pending: PendingInvocation | None,
        decoder: StreamDecoder,
        streaming: bool,
    ) -> bool:
        target, now = record.target, record.ended_at
        error_type = record.header("Lambda-Runtime-Function-Error-Type")
        if target.endswith("/runtime/invocation/next"):
            nxt = api._next_event()
            if nxt is None:
                return False
            nxt.delivered_at = time.monotonic()
            self._answer(200, nxt.event, nxt.next_headers)
            return True
        if target.endswith("/runtime/init/error"):
            api.init_errors.append((error_type, json.loads(record.body or b"{}")))
            return self._answer(202, {"status": "OK"})
        if target.endswith("/runtime/restore/next"):
            api.restore_calls += 1
            return self._answer(200, b"")
        if target.endswith("/runtime/restore/error"):
            api.restore_errors.append((error_type, json.loads(record.body or b"{}")))
            return self._answer(202, {"status": "OK"})
        if pending is None or pending.done:
            return self._answer(
                400, {"errorMessage": "Invalid request ID", "errorType": "InvalidRequestID"}
            )
        pending.request = record
        mode = record.header("Lambda-Runtime-Function-Response-Mode")
        if mode is not None and mode != "streaming":
            pending.publish(StreamBroken(f"bad response mode {mode!r}", now))
            return self._answer(
                400, {"errorMessage": "bad response mode", "errorType": "InvalidResponseMode"}
            )
        if target.endswith("/error"):
            pending.publish(InvocationErrorEvent(json.loads(record.body), error_type, now))
        elif streaming:
            if not decoder.prelude_seen:
                pending.publish(StreamBroken("stream ended before the prelude delimiter", now))
            else:
                trailers = {k.lower(): v for k, v in record.trailers}
                kind = trailers.get("lambda-runtime-function-error-type")
                pending.publish(StreamEnd(trailers, kind, decode_error_trailers(trailers), now))
        else:
            pending.publish(BufferedResult(record.body, record.header("Content-Type"), now))
        return self._answer(202, {"status": "OK"})

    def _answer(self, status: int, body: Any, headers: Mapping[str, str] | None = None) -> bool:
        payload = body if isinstance(body, bytes) else json.dumps(body).encode()
        reason = {200: "OK", 202: "Accepted", 400: "Bad Request"}.get(status, "Status")
        lines = [f"HTTP/1.1 {status} {reason}", f"Content-Length: {len(payload)}"]
        if headers is None:
            lines.append("Content-Type: application/json")
        lines.extend(f"{k}: {v}" for k, v in (headers or {}).items())
        self.wfile.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + payload)
        self.wfile.flush()
        return True
