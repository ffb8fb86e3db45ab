"""The thin socket loop: one keep-alive connection to the Runtime API, and the live writer.

All rules and bytes come from :mod:`lambda_isr.runtime.protocol`; this module only moves them.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable, Sequence
from enum import Enum
from typing import TypeVar

from lambda_isr.errors import ResponseStateError, RuntimeApiError
from lambda_isr.runtime import protocol
from lambda_isr.runtime.protocol import ApiRequest, ApiResponse, ErrorPayload, Invocation
from lambda_isr.runtime.writer import HeaderInput, normalise_head, to_bytes

log = logging.getLogger("lambda_isr.runtime")

T = TypeVar("T")

_SMALL = 64 * 1024  # pieces smaller than this are joined into one send


class RuntimeApiClient:
    """Talks to ``AWS_LAMBDA_RUNTIME_API`` (``host:port``) over one persistent connection."""

    def __init__(self, address: str) -> None:
        host, _, port = address.rpartition(":")
        if not host or not port.isdigit():
            raise RuntimeApiError(f"AWS_LAMBDA_RUNTIME_API must be host:port, got {address!r}")
        self.address = address
        self._target = (host, int(port))
        self._sock: socket.socket | None = None
        self._conn: protocol.RuntimeApiConnection | None = None

    # --- connection ------------------------------------------------------------------------

    def _connect(self) -> tuple[socket.socket, protocol.RuntimeApiConnection]:
        if self._sock is None or self._conn is None or not self._conn.reusable:
            self.close()
            try:
                sock = socket.create_connection(self._target)
            except OSError as exc:
                raise RuntimeApiError(f"cannot connect to {self.address}: {exc}") from exc
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._sock, self._conn = sock, protocol.RuntimeApiConnection(self.address)
        return self._sock, self._conn

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
        self._sock = self._conn = None

    def _send(self, pieces: Sequence[bytes]) -> None:
        assert self._sock is not None
        try:
            if sum(len(p) for p in pieces) < _SMALL:
                self._sock.sendall(b"".join(pieces))
            else:
                for piece in pieces:
                    self._sock.sendall(piece)
        except OSError as exc:
            self.close()
            raise RuntimeApiError(f"lost the Runtime API connection: {exc}") from exc

    def _read_response(self) -> ApiResponse:
        assert self._sock is not None
        assert self._conn is not None
        try:
            while True:
                data = self._sock.recv(65536)
                response = self._conn.receive(data)
                if response is not None:
                    return response
                if not data:  # pragma: no cover - receive() raises at EOF
                    raise RuntimeApiError("the Runtime API closed the connection")
        except OSError as exc:
            self.close()
            raise RuntimeApiError(f"lost the Runtime API connection: {exc}") from exc
        except RuntimeApiError:
            self.close()
            raise

    def request(self, request: ApiRequest) -> ApiResponse:
        """Send a whole request and read its answer; retried once on a stale keep-alive."""
        for attempt in (1, 2):
            reused = self._sock is not None and self._conn is not None and self._conn.reusable
            _, conn = self._connect()
            try:
                self._send([conn.send_request(request)])
                return self._read_response()
            except RuntimeApiError:
                if not reused or attempt == 2:
                    raise
                log.debug("stale Runtime API connection, reconnecting")
        raise AssertionError("unreachable")  # pragma: no cover

    def post(self, request: ApiRequest) -> ApiResponse:
        """A POST whose non-2xx answer is logged, never raised (the loop goes on)."""
        response = self.request(request)
        if not response.ok:
            log.error(
                "Runtime API answered %s to %s: %s",
                response.status,
                request.target,
                response.body[:500].decode("utf-8", "replace"),
            )
        return response

    # --- the calls ----------------------------------------------------------------------------

    def next_invocation(self) -> Invocation:
        return Invocation.from_response(self.request(protocol.next_invocation()))

    def post_response(self, request_id: str, body: bytes, content_type: str) -> None:
        self.post(protocol.invocation_response(request_id, body, content_type))

    def post_error(self, request_id: str, payload: ErrorPayload) -> None:
        self.post(protocol.invocation_error(request_id, payload))

    def post_init_error(self, payload: ErrorPayload, error_type: str | None = None) -> None:
        self.post(protocol.init_error(payload, error_type))

    def restore_next(self) -> None:
        response = self.request(protocol.restore_next())
        if not response.ok:
            raise RuntimeApiError(f"/restore/next answered {response.status}")

    def post_restore_error(self, payload: ErrorPayload) -> None:
        self.post(protocol.restore_error(payload))

    def open_writer(self, request_id: str) -> LiveWriter:
        return LiveWriter(self, request_id)

    # --- streamed response (used by LiveWriter) ---------------------------------------------

    def stream_open(self, request_id: str, prelude: bytes) -> None:
        _, conn = self._connect()
        self._send(
            [conn.send_request(protocol.streaming_response(request_id)), *conn.send_chunk(prelude)]
        )
        self._send(conn.send_chunk(protocol.DELIMITER))  # a separate write, as Node and Rust do

    def stream_chunk(self, data: bytes) -> None:
        assert self._conn is not None
        pieces = self._conn.send_chunk(data)
        if pieces:
            self._send(pieces)

    def stream_close(self, trailers: protocol.Headers = ()) -> ApiResponse:
        assert self._conn is not None
        self._send([self._conn.end_body(trailers)])
        response = self._read_response()
        if not response.ok:
            log.error(
                "Runtime API answered %s to the streamed response: %s",
                response.status,
                response.body[:500].decode("utf-8", "replace"),
            )
        return response


class WriterState(Enum):
    NEW = "new"
    STREAMING = "streaming"
    ENDED = "ended"
    FAILED = "failed"


class LiveWriter:
    """A :class:`~lambda_isr.runtime.writer.ResponseWriter` bound to one invocation: every
    ``write`` leaves on the wire at once."""

    def __init__(self, client: RuntimeApiClient, request_id: str) -> None:
        self._client = client
        self.request_id = request_id
        self.state = WriterState.NEW
        self._size = 0
        self.response: ApiResponse | None = None

    @property
    def started(self) -> bool:
        return self.state is not WriterState.NEW

    @property
    def finished(self) -> bool:
        return self.state in (WriterState.ENDED, WriterState.FAILED)

    @property
    def bytes_written(self) -> int:
        return self._size

    def start(
        self, status: int = 200, headers: HeaderInput | None = None, cookies: Sequence[str] = ()
    ) -> None:
        if self.state is not WriterState.NEW:
            raise ResponseStateError("response already started")
        prelude = protocol.encode_prelude(*normalise_head(status, headers, cookies))
        self.state = WriterState.STREAMING
        self._guarded(lambda: self._client.stream_open(self.request_id, prelude))

    def write(self, data: bytes | str) -> None:
        if self.finished:
            raise ResponseStateError("write after the response ended")
        chunk = to_bytes(data)
        if not self.started:
            self.start()
        if chunk:
            self._guarded(lambda: self._client.stream_chunk(chunk))
            self._size += len(chunk)

    def end(self) -> None:
        if self.finished:
            raise ResponseStateError("response already ended")
        if not self.started:
            self.start()
        self.state = WriterState.ENDED
        self.response = self._guarded(self._client.stream_close)

    def fail(self, error: BaseException) -> None:
        if self.finished:
            raise ResponseStateError("response already ended")
        payload = protocol.error_payload(error, self.request_id)
        if not self.started:
            self.state = WriterState.FAILED
            self._client.post_error(self.request_id, payload)
            return
        self.state = WriterState.FAILED
        trailers = protocol.error_trailers(payload)
        self.response = self._guarded(lambda: self._client.stream_close(trailers))

    def _guarded(self, action: Callable[[], T]) -> T:
        try:
            return action()
        except RuntimeApiError:
            self.state = WriterState.FAILED
            raise
