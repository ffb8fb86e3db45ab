"""The thin socket loop: one keep-alive connection to the Runtime API (the live writer that
streams on it is :mod:`lambda_isr.runtime.live`).

All rules and bytes come from :mod:`lambda_isr.runtime.protocol`; this module only moves them.
It uses the ``_socket`` extension directly: ``socket.py`` adds nothing the loop needs (no
``makefile``, no ``sendfile``) and costs milliseconds of cold start (``enum`` conversions,
``selectors``). Reads go through one reused buffer (``recv_into``); small requests leave in one
``sendall``, a large body and its framing in one ``sendmsg`` without joining them.
"""

from __future__ import annotations

import _socket
import logging

from lambda_isr.errors import ResponseStateError, RuntimeApiError
from lambda_isr.runtime import protocol
from lambda_isr.runtime.connection import RuntimeApiConnection
from lambda_isr.runtime.live import LiveWriter, WriterState
from lambda_isr.runtime.protocol import ApiResponse, Invocation

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from collections.abc import Callable, Sequence

    from lambda_isr.runtime.protocol import ApiRequest, ErrorPayload

log = logging.getLogger("lambda_isr.runtime")

_SMALL = 64 * 1024  # pieces smaller than this together are joined into one send
_READ = 64 * 1024  # the reused read buffer


class _ConnectionLostError(RuntimeApiError):
    """The connection died before any byte of the answer arrived (a stale keep-alive)."""


def _open(host: str, port: int) -> _socket.socket:
    error: OSError | None = None
    for family, kind, proto, _, address in _socket.getaddrinfo(host, port, 0, _socket.SOCK_STREAM):
        sock = _socket.socket(family, kind, proto)
        try:
            sock.connect(address)
            sock.setsockopt(_socket.IPPROTO_TCP, _socket.TCP_NODELAY, 1)
        except OSError as exc:
            sock.close()
            error = exc
            continue
        return sock
    raise error or OSError(f"no address for {host}")


class RuntimeApiClient:
    """Talks to ``AWS_LAMBDA_RUNTIME_API`` (``host:port``) over one persistent connection."""

    def __init__(self, address: str) -> None:
        host, _, port = address.rpartition(":")
        if not host or not port.isdigit():
            raise RuntimeApiError(f"AWS_LAMBDA_RUNTIME_API must be host:port, got {address!r}")
        self.address = address
        self._host = host
        self._port = int(port)
        self._sock: _socket.socket | None = None
        self._conn: RuntimeApiConnection | None = None
        self._buffer = bytearray(_READ)

    # --- connection ------------------------------------------------------------------------

    def _ready(self) -> tuple[RuntimeApiConnection, bool]:
        """A connection ready for a request, and whether it is a reused keep-alive one."""
        conn = self._conn
        if conn is not None and conn.reusable:
            return conn, True
        self.close()
        try:
            self._sock = _open(self._host, self._port)
        except OSError as exc:
            raise RuntimeApiError(f"cannot connect to {self.address}: {exc}") from exc
        conn = self._conn = RuntimeApiConnection(self.address)
        return conn, False

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
        self._sock = self._conn = None

    def _send(self, data: bytes, body: bytes = b"") -> None:
        sock = self._sock
        assert sock is not None
        try:
            if not body:
                sock.sendall(data)
            elif len(body) < _SMALL:
                sock.sendall(data + body)
            else:
                self._sendv(sock, [data, body])
        except OSError as exc:
            self.close()
            raise _ConnectionLostError(f"lost the Runtime API connection: {exc}") from exc

    def _send_pieces(self, pieces: Sequence[bytes]) -> None:
        sock = self._sock
        assert sock is not None
        try:
            if sum(map(len, pieces)) < _SMALL:
                sock.sendall(b"".join(pieces))
            else:
                self._sendv(sock, pieces)
        except OSError as exc:
            self.close()
            raise RuntimeApiError(f"lost the Runtime API connection: {exc}") from exc

    @staticmethod
    def _sendv(sock: _socket.socket, pieces: Sequence[bytes]) -> None:
        """One gathered write (no joining of large buffers); finishes a partial one."""
        sent = sock.sendmsg(pieces)
        for piece in pieces:
            if sent >= len(piece):
                sent -= len(piece)
                continue
            sock.sendall(memoryview(piece)[sent:])
            sent = 0

    def _read(self, conn: RuntimeApiConnection) -> ApiResponse:
        sock = self._sock
        assert sock is not None
        buffer = self._buffer
        got = False
        try:
            while True:
                size = sock.recv_into(buffer)
                if size:
                    got = True
                    response = conn.receive(buffer[:size])
                elif got:
                    response = conn.receive(b"")
                else:
                    raise _ConnectionLostError("the Runtime API closed the connection")
                if response is not None:
                    return response
        except OSError as exc:
            self.close()
            error = _ConnectionLostError if not got else RuntimeApiError
            raise error(f"lost the Runtime API connection: {exc}") from exc
        except RuntimeApiError:
            self.close()
            raise

    def _exchange(
        self, build: Callable[[RuntimeApiConnection], bytes], body: bytes = b""
    ) -> ApiResponse:
        """Send a request and read its answer; retried once when a reused keep-alive
        connection turns out to be dead."""
        conn, reused = self._ready()
        try:
            self._send(build(conn), body)
            return self._read(conn)
        except _ConnectionLostError:
            if not reused:
                raise
        log.debug("stale Runtime API connection, reconnecting")
        conn, _ = self._ready()
        self._send(build(conn), body)
        return self._read(conn)

    def request(self, request: ApiRequest) -> ApiResponse:
        """Send a whole request and read its answer; retried once on a stale keep-alive."""
        if request.body is None:
            raise ResponseStateError("request() sends whole requests, not streamed ones")
        return self._exchange(lambda conn: conn.send_request(request))

    def post(self, request: ApiRequest) -> ApiResponse:
        """A POST whose non-2xx answer is logged, never raised (the loop goes on)."""
        response = self.request(request)
        if not response.ok:
            self._log_failure(response, request.target)
        return response

    @staticmethod
    def _log_failure(response: ApiResponse, what: str) -> None:
        log.error(
            "Runtime API answered %s to %s: %s",
            response.status,
            what,
            response.body[:500].decode("utf-8", "replace"),
        )

    # --- the calls ----------------------------------------------------------------------------

    def next_invocation(self) -> Invocation:
        return Invocation.from_response(self._exchange(RuntimeApiConnection.send_next))

    def post_response(self, request_id: str, body: bytes, content_type: str) -> None:
        length = len(body)
        response = self._exchange(
            lambda conn: conn.send_response_head(request_id, content_type, length), body
        )
        if not 200 <= response.status < 300:
            self._log_failure(response, f"{protocol.API}/runtime/invocation/{request_id}/response")

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
        conn, _ = self._ready()
        self._send_pieces([conn.send_stream_head(request_id), *conn.send_chunk(prelude)])
        self._send_pieces(conn.send_chunk(protocol.DELIMITER))  # a separate write, as Node does

    def stream_whole(self, request_id: str, prelude: bytes, body: bytes) -> ApiResponse:
        """A whole streamed answer in one write: the same chunks as :meth:`stream_open`,
        :meth:`stream_chunk` and :meth:`stream_close` (the prelude and the delimiter still two
        chunks of their own), framed together so that they leave in one system call."""
        conn, _ = self._ready()
        pieces = [conn.send_stream_head(request_id), *conn.send_chunk(prelude)]
        pieces += conn.send_chunk(protocol.DELIMITER)
        pieces += conn.send_chunk(body)
        pieces.append(conn.end_body())
        self._send_pieces(pieces)
        response = self._read(conn)
        if not response.ok:
            self._log_failure(response, "the streamed response")
        return response

    def stream_chunk(self, data: bytes) -> None:
        conn = self._conn
        if conn is None:
            raise RuntimeApiError("the Runtime API connection is closed")
        pieces = conn.send_chunk(data)
        if pieces:
            self._send_pieces(pieces)

    def stream_close(self, trailers: protocol.Headers = ()) -> ApiResponse:
        conn = self._conn
        if conn is None:
            raise RuntimeApiError("the Runtime API connection is closed")
        self._send_pieces([conn.end_body(trailers)])
        response = self._read(conn)
        if not response.ok:
            self._log_failure(response, "the streamed response")
        return response


__all__ = ["LiveWriter", "RuntimeApiClient", "WriterState"]
