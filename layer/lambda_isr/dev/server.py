"""The HTTP/1.1 front of ``lambda-isr dev``: each request becomes a Function URL event on an
idle worker, and the response is relayed to the client chunk by chunk as the worker streams it
(chunked transfer-encoding, one flush per chunk)."""

from __future__ import annotations

import contextlib
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from lambda_isr.dev.events import build_event
from lambda_isr.dev.log import AccessRecord, DevLog
from lambda_isr.dev.pool import WorkerPool
from lambda_isr.dev.relay import WorkerFailure, follow
from lambda_isr.dev.responses import (
    Answer,
    body_allowed,
    buffered_answer,
    describe_error,
    failure_answer,
    prelude_headers,
)
from lambda_isr.runtime.recording import (
    BodyChunk,
    BufferedResult,
    InvocationErrorEvent,
    InvocationEvent,
    Prelude,
    StreamBroken,
    StreamEnd,
)

_CLIENT_GONE = (BrokenPipeError, ConnectionResetError, ConnectionAbortedError, TimeoutError)


class DevHttpServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    block_on_close = False

    def __init__(self, address: tuple[str, int], pool: WorkerPool, log: DevLog) -> None:
        self.pool = pool
        self.log = log
        self.invocation_timeout = pool.spec.timeout
        super().__init__(address, DevRequestHandler)

    @property
    def url(self) -> str:
        host, port = str(self.server_address[0]), self.server_address[1]
        if host in ("0.0.0.0", ""):  # noqa: S104 - only naming what was bound
            host = "127.0.0.1"
        return f"http://{f'[{host}]' if ':' in host else host}:{port}/"


class DevRequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "lambda-isr-dev"
    server: DevHttpServer

    def version_string(self) -> str:
        return self.server_version

    def log_message(self, format: str, *args: Any) -> None:
        self.server.log.line(f"http: {format % args}")

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Silenced: :meth:`_invoke` writes its own access line."""

    # --- one request ---------------------------------------------------------------------------

    def _read_body(self) -> bytes:
        if self.headers.get("transfer-encoding", "").lower() == "chunked":
            parts = []
            while size := int(self.rfile.readline(1024).split(b";")[0].strip() or b"0", 16):
                parts.append(self.rfile.read(size))
                self.rfile.readline(8)
            while self.rfile.readline(8192) not in (b"\r\n", b"\n", b""):
                pass  # trailers
            return b"".join(parts)
        return self.rfile.read(int(self.headers.get("content-length") or 0))

    def _invoke(self) -> None:
        started = time.monotonic()
        request_id = str(uuid.uuid4())
        try:
            body = self._read_body()
        except ValueError:
            self.send_error(400, "malformed request body framing")
            return
        headers = [(k, v) for k, v in self.headers.items() if k.lower() != "transfer-encoding"]
        event = build_event(
            self.command, self.path, headers, body,
            source_ip=self.client_address[0], request_id=request_id,
        )  # fmt: skip
        relay = _Relay(self, started)
        timeout = self.server.invocation_timeout
        lease = self.server.pool.acquire(timeout)
        if lease is None:
            relay.answer(Answer(503, (("content-type", "text/plain"),), b"no worker is free\n"))
        else:
            try:
                deadline = int((time.time() + timeout) * 1000)
                pending = lease.worker.api.enqueue(
                    event, request_id=request_id, deadline_ms=deadline
                )
                for item in follow(pending, lease.worker, timeout):
                    relay.feed(item, request_id)
            finally:
                lease.worker.api.invocations.pop(request_id, None)
                self.server.pool.release(lease)
        record = AccessRecord(
            self.command, self.path, relay.status, relay.cache, relay.ttfb,
            time.monotonic() - started, relay.body_bytes, lease.slot.index if lease else None,
        )  # fmt: skip
        self.server.log.line(record.format())


# ``do_<METHOD>`` for every method a Function URL accepts: the function decides what to answer.
for _method in ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"):
    setattr(DevRequestHandler, f"do_{_method}", DevRequestHandler._invoke)


class _Relay:
    """Sends one invocation's events to the client as they come (never raises on a lost client)."""

    def __init__(self, handler: DevRequestHandler, started: float) -> None:
        self.handler = handler
        self.started = started
        self.log = handler.server.log
        self.status = 0
        self.cache: str | None = None
        self.ttfb: float | None = None
        self.body_bytes = 0
        self.head_sent = False
        self.chunked = False
        self.client_gone = False

    def feed(self, item: InvocationEvent | WorkerFailure, request_id: str) -> None:
        if isinstance(item, Prelude):
            self._head(item.status, prelude_headers(item), streamed=True)
        elif isinstance(item, BodyChunk):
            self._chunk(item.data)
        elif isinstance(item, StreamEnd):
            if item.error is not None or item.error_type is not None:
                detail = describe_error(item.error, item.error_type)
                self.log.line(f"{request_id} stream ended with an error: {detail}")
            self._end()
        elif isinstance(item, BufferedResult):
            self.answer(buffered_answer(item))
        elif isinstance(item, InvocationErrorEvent):
            self.log.line(f"{request_id} invocation error: {describe_error(item.payload)}")
            for line in item.payload.get("stackTrace") or []:
                self.log.line(f"    {str(line).rstrip()}")
            kind = str(item.payload.get("errorType") or item.error_type or "Error")
            self._fail(kind, str(item.payload.get("errorMessage", "")), request_id)
        elif isinstance(item, StreamBroken):
            self.log.line(f"{request_id} broken response stream: {item.reason}")
            self._fail("Runtime.InvalidStreamingResponse", item.reason, request_id)
        else:
            self.log.line(f"{request_id} {item.error_type}: {item.message}")
            self._fail(item.error_type, item.message, request_id)

    def answer(self, answer: Answer) -> None:
        headers = [*answer.headers, ("content-length", str(len(answer.body)))]
        self._head(answer.status, headers, streamed=False)
        self._chunk(answer.body)

    def _fail(self, error_type: str, message: str, request_id: str) -> None:
        if not self.head_sent:
            self.answer(failure_answer(error_type, message, request_id))
            return
        self.handler.close_connection = True  # no last chunk: the client sees a cut response

    def _head(self, status: int, headers: list[tuple[str, str]], *, streamed: bool) -> None:
        handler = self.handler
        self.status, self.head_sent = status, True
        self.cache = next((v for k, v in headers if k == "x-isr-cache"), None)
        self.chunked = streamed and body_allowed(handler.command, status)
        try:
            handler.send_response(status)
            for name, value in headers:
                handler.send_header(name, value)
            if self.chunked:
                handler.send_header("transfer-encoding", "chunked")
            handler.end_headers()
            handler.wfile.flush()
        except _CLIENT_GONE:
            self._lost()
        self.ttfb = time.monotonic() - self.started

    def _chunk(self, data: bytes) -> None:
        if not data or not body_allowed(self.handler.command, self.status):
            return
        self.body_bytes += len(data)
        if self.client_gone:
            return
        framed = b"%x\r\n%s\r\n" % (len(data), data) if self.chunked else data
        try:
            self.handler.wfile.write(framed)
            self.handler.wfile.flush()
        except _CLIENT_GONE:
            self._lost()

    def _end(self) -> None:
        if not self.chunked or self.client_gone:
            return
        try:
            self.handler.wfile.write(b"0\r\n\r\n")
            self.handler.wfile.flush()
        except _CLIENT_GONE:
            self._lost()

    def _lost(self) -> None:
        if not self.client_gone:
            self.client_gone = True
            self.handler.close_connection = True
            with contextlib.suppress(OSError):
                self.log.line(f"client went away during {self.handler.command} {self.handler.path}")
