"""The HTTP/1.1 front of ``lambda-isr dev``: each request becomes a Function URL event on an
idle worker, and the response is relayed to the client chunk by chunk as the worker streams it
(chunked transfer-encoding, one flush per chunk). Like a Function URL, it answers 413 to a body
over 6 MiB and 400 to broken body framing (before any worker sees them), and 502 to a response
head it cannot send (a control character such as CR or LF in a header, a bad name or status).
"""

from __future__ import annotations

import contextlib
import json
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from lambda_isr.dev.assets import asset_answer
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
    BufferedResult,
    InvocationErrorEvent,
    InvocationEvent,
    Prelude,
    RecordedChunk,
    StreamBroken,
    StreamEnd,
)

_CLIENT_GONE = (BrokenPipeError, ConnectionResetError, ConnectionAbortedError, TimeoutError)
MAX_BODY = 6 * 1024 * 1024
"""A Function URL's request payload limit: a larger body is answered 413 without being read."""
_MAX_LINE, _MAX_TRAILERS = 4096, 100  # bytes per chunk-size or trailer line; trailer lines
_HEX = b"0123456789abcdefABCDEF"
_TOKEN = frozenset("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
_CTL = frozenset(chr(c) for c in (*range(0x09), *range(0x0A, 0x20), 0x7F))  # HTAB allowed


class _RefusedError(Exception):
    """The request body cannot be taken: the answer a Function URL gives instead."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status

    def answer(self) -> Answer:
        body = (json.dumps({"Message": str(self)}) + "\n").encode()
        headers = (("content-type", "application/json"), ("connection", "close"))
        return Answer(self.status, headers, body)


def head_problem(status: int, headers: list[tuple[str, str]]) -> str | None:
    """Why this response head cannot be sent as it is (``None`` when it can)."""
    if not 100 <= status <= 599:
        return f"invalid status code {status}"
    for name, value in headers:
        if not name or not _TOKEN.issuperset(name):
            return f"invalid header name {name[:100]!r}"
        if not _CTL.isdisjoint(value):
            return f"control character (CR, LF, NUL...) in the value of header {name}"
    return None


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
        """The whole body, never more than :data:`MAX_BODY` (raises :class:`_RefusedError`)."""
        coding = self.headers.get_all("transfer-encoding") or []
        lengths = self.headers.get_all("content-length") or []
        if coding:
            if ",".join(coding).strip().lower() != "chunked" or lengths:
                raise _RefusedError(400, "unsupported Transfer-Encoding")
            return self._read_chunked()
        if not lengths:
            return b""
        values = {v.strip() for v in ",".join(lengths).split(",")}
        value = values.pop() if len(values) == 1 else ""
        if not (value.isascii() and value.isdigit()):
            raise _RefusedError(400, "invalid Content-Length")
        length = int(value)
        if length > MAX_BODY:
            raise _RefusedError(413, "Request Entity Too Large")
        body = self.rfile.read(length)
        if len(body) != length:
            raise _RefusedError(400, "the request body ended early")
        return body

    def _read_chunked(self) -> bytes:
        parts: list[bytes] = []
        total = 0
        while True:
            line = self.rfile.readline(_MAX_LINE)
            digits = line.split(b";")[0].strip()
            if not line.endswith(b"\n") or not 0 < len(digits) <= 16 or digits.strip(_HEX):
                raise _RefusedError(400, "malformed chunk-size line")
            size = int(digits, 16)
            if size == 0:
                break
            total += size
            if total > MAX_BODY:
                raise _RefusedError(413, "Request Entity Too Large")
            data = self.rfile.read(size)
            if len(data) != size or self.rfile.readline(3) not in (b"\r\n", b"\n"):
                raise _RefusedError(400, "malformed chunk")
            parts.append(data)
        for _ in range(_MAX_TRAILERS):
            line = self.rfile.readline(_MAX_LINE)
            if line in (b"\r\n", b"\n"):
                return b"".join(parts)
            if not line.endswith(b"\n"):
                break
        raise _RefusedError(400, "malformed trailer section")

    def _invoke(self) -> None:
        started = time.monotonic()
        relay = _Relay(self, started)
        try:
            body = self._read_body()
        except _RefusedError as refused:  # before any worker sees the request
            relay.answer(refused.answer())
            slot = None
        else:
            slot = self._run(relay, body)
        record = AccessRecord(
            self.command, self.path, relay.status, relay.cache, relay.ttfb,
            time.monotonic() - started, relay.body_bytes, slot,
        )  # fmt: skip
        self.server.log.line(record.format())

    def _run(self, relay: _Relay, body: bytes) -> int | None:
        """Invoke a worker and relay its answer; the worker slot that served it."""
        spec = self.server.pool.spec
        asset = asset_answer(self.command, self.path, spec.task_root, spec.base_env)
        if asset is not None:  # /assets/*: the front end's build output (dev/assets.py)
            relay.answer(asset)
            return None
        request_id = str(uuid.uuid4())
        headers = [(k, v) for k, v in self.headers.items() if k.lower() != "transfer-encoding"]
        event = build_event(
            self.command, self.path, headers, body,
            source_ip=self.client_address[0], request_id=request_id,
        )  # fmt: skip
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
        return lease.slot.index if lease else None


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
        self.discard = False  # the head was refused: the rest of the response is dropped

    def feed(self, item: InvocationEvent | WorkerFailure, request_id: str) -> None:
        if self.discard:
            return
        if isinstance(item, Prelude):
            self._head(item.status, prelude_headers(item), streamed=True)
        elif isinstance(item, RecordedChunk):
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
        problem = head_problem(status, headers)
        if problem is not None:  # a Function URL answers 502 and sends nothing of it
            self.log.line(f"invalid response from the function: {problem}")
            self.answer(failure_answer("Runtime.InvalidResponse", problem, None))
            self.discard = True
            return
        self.status, self.head_sent = status, True
        self.cache = next((v for k, v in headers if k == "x-isr-cache"), None)
        self.chunked = streamed and body_allowed(handler.command, status)
        try:
            handler.send_response(status)
            for name, value in headers:  # non-latin-1 text leaves as its UTF-8 bytes
                latin = value if value.isascii() else value.encode().decode("latin-1")
                handler.send_header(name, latin)
            if self.chunked:
                handler.send_header("transfer-encoding", "chunked")
            handler.end_headers()
            handler.wfile.flush()
        except _CLIENT_GONE:
            self._lost()
        self.ttfb = time.monotonic() - self.started

    def _chunk(self, data: bytes) -> None:
        if not data or self.discard or not body_allowed(self.handler.command, self.status):
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
        if not self.chunked or self.client_gone or self.discard:
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
