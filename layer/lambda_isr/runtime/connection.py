"""The Runtime API connection as a sans-IO state machine: request bytes out, answers in.

A small, strict HTTP/1.1 framer of its own (no ``h11`` on the cold-start path): answers are
parsed for the status line, the headers, a ``Content-Length`` or chunked body (Go's
``net/http`` may answer ``/next`` chunked) and keep-alive; a streamed response is framed chunk by
chunk and ends with real trailers. :mod:`lambda_isr.runtime.client` owns the socket; the values
and request builders live in :mod:`lambda_isr.runtime.protocol`.
"""

from __future__ import annotations

from enum import Enum

from lambda_isr.errors import ResponseStateError, RuntimeApiError
from lambda_isr.runtime.protocol import (
    _CTL,
    _HEX,
    _STREAM_HEADERS,
    _TOKEN,
    API,
    MAX_CHUNK_LINE,
    MAX_HEAD,
    USER_AGENT,
    ApiRequest,
    ApiResponse,
    _check_target,
    _header_line,
    _quote_id,
)

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from lambda_isr.runtime.protocol import Headers

# --- response parsing ----------------------------------------------------------------------


class _Head:
    """A parsed response head: status, headers and how the body is framed."""

    __slots__ = ("chunked", "close", "fields", "headers", "length", "status")

    def __init__(self, head: bytes | bytearray) -> None:
        lines = _lines(head, "response head")
        status_line = lines[0]
        version, _, rest = status_line.partition(" ")
        code = rest[:3]
        if (
            (version != "HTTP/1.1" and version != "HTTP/1.0")  # noqa: PLR1714 - cheaper
            or len(code) != 3
            or not code.isdecimal()
            or (len(rest) > 3 and rest[3] != " ")
            or not 100 <= int(code) <= 599
        ):
            raise RuntimeApiError(f"malformed status line {status_line[:100]!r}")
        self.status = status = int(code)
        pairs, fields = _parse_fields(lines, 1)
        repeated = len(fields) != len(pairs)
        self.headers: Headers = tuple(pairs) if repeated else tuple(fields.items())
        self.fields = fields
        connection = fields.get("connection")
        if connection is None:
            self.close = version == "HTTP/1.0"
        else:
            tokens = {t.strip(" \t").lower() for t in connection.split(",")}
            self.close = "keep-alive" not in tokens if version == "HTTP/1.0" else "close" in tokens
        self.chunked = False
        length = fields.get("content-length")
        if status < 200 or status in {204, 304}:
            self.length: int | None = 0
        elif "transfer-encoding" in fields:
            coding = _all_values(pairs, "transfer-encoding")
            if coding.lower() != "chunked":
                raise RuntimeApiError(f"unsupported Transfer-Encoding {coding[:100]!r}")
            if length is not None:
                raise RuntimeApiError("both Transfer-Encoding and Content-Length in the answer")
            self.chunked = True
            self.length = None
        elif length is None:
            self.length = None  # the body runs until the connection closes
        elif length.isdecimal() and len(length) <= 18 and not repeated:
            self.length = int(length)
        else:  # a list ("5, 5") or repeated headers must all agree
            values = {v.strip(" \t") for v in _all_values(pairs, "content-length").split(",")}
            length = values.pop() if len(values) == 1 else ""
            if not (length.isdecimal() and len(length) <= 18):
                raise RuntimeApiError(f"invalid Content-Length {fields['content-length']!r}")
            self.length = int(length)


def _lines(raw: bytes | bytearray, what: str) -> list[str]:
    """A head (or trailer section) as latin-1 lines, without bare CR, bare LF or control
    characters (HTAB is allowed)."""
    if len(raw.translate(None, _CTL)) != len(raw):
        raise RuntimeApiError(f"control character in the {what}")
    text = raw.decode("latin-1")
    lines = text.split("\r\n")
    breaks = len(lines) - 1
    if text.count("\r") != breaks or text.count("\n") != breaks:
        raise RuntimeApiError(f"bare CR or LF in the {what}")
    return lines


def _parse_fields(lines: list[str], start: int) -> tuple[list[tuple[str, str]], dict[str, str]]:
    """``name: value`` lines from ``start`` on: the (lowercased name, value) pairs and the first
    value per name. Names must be RFC 9110 tokens; whitespace around values is dropped."""
    pairs: list[tuple[str, str]] = []
    fields: dict[str, str] = {}
    for index in range(start, len(lines)):
        name, sep, value = lines[index].partition(":")
        if not sep or not name:
            raise RuntimeApiError(f"malformed header line {lines[index][:100]!r}")
        key = name.lower()
        value = value.strip(" \t")
        pairs.append((key, value))
        if key not in fields:
            fields[key] = value
    # One check for every name at once (latin-1 lowercasing never yields an ASCII letter).
    if "".join(fields).encode("latin-1").translate(None, _TOKEN):
        bad = next(k for k in fields if k.encode("latin-1").translate(None, _TOKEN))
        raise RuntimeApiError(f"malformed header name {bad[:100]!r}")
    return pairs, fields


def _parse_trailers(raw: bytes | bytearray) -> list[tuple[str, str]]:
    return _parse_fields(_lines(raw, "trailers"), 0)[0]


def _all_values(pairs: list[tuple[str, str]], wanted: str) -> str:
    return ", ".join(value for name, value in pairs if name == wanted)


# parser states
_HEAD, _LENGTH, _CHUNK_SIZE, _CHUNK_DATA, _CHUNK_END, _TRAILERS, _UNTIL_CLOSE = range(7)


class Phase(Enum):
    IDLE = "idle"
    STREAMING = "streaming"
    AWAITING = "awaiting"
    BROKEN = "broken"


_IDLE = Phase.IDLE
_STREAMING = Phase.STREAMING
_AWAITING = Phase.AWAITING
_BROKEN = Phase.BROKEN


class RuntimeApiConnection:
    """One keep-alive HTTP/1.1 connection to the Runtime API, as bytes in and bytes out.

    ``send_*`` return the bytes to write; :meth:`receive` takes the bytes read (``b""`` at EOF)
    and returns the :class:`ApiResponse` once complete. The hot requests (``/next``, a buffered
    ``/response``, a streamed head) have dedicated builders that skip :class:`ApiRequest`.
    """

    __slots__ = (
        "_body",
        "_head",
        "_need",
        "_next",
        "_phase",
        "_prefix",
        "_rest",
        "_scan",
        "_state",
        "_stream",
        "_types",
    )

    def __init__(self, host: str) -> None:
        if not host or not host.isascii() or not host.isprintable() or " " in host:
            raise RuntimeApiError(f"invalid Runtime API host {host[:100]!r}")
        self._prefix = f"Host: {host}\r\nUser-Agent: {USER_AGENT}\r\n"
        self._next = f"GET {API}/runtime/invocation/next HTTP/1.1\r\n{self._prefix}\r\n".encode()
        self._stream = "".join(_header_line(k, v) for k, v in _STREAM_HEADERS) + "\r\n"
        self._types: dict[str, str] = {}  # content type -> checked header line
        self._phase = _IDLE
        self._rest = bytearray()
        self._reset()

    def _reset(self) -> None:
        self._state = _HEAD
        self._scan = 0
        self._need = 0
        self._head: _Head | None = None
        self._body: list[bytes | bytearray] = []

    @property
    def phase(self) -> Phase:
        return self._phase

    @property
    def reusable(self) -> bool:
        return self._phase is _IDLE

    # --- requests ----------------------------------------------------------------------------

    def send_request(self, request: ApiRequest) -> bytes:
        """Bytes of a whole request, or of the head only when ``request.body is None``."""
        self._expect(_IDLE)
        method, target, body = request.method, request.target, request.body
        try:
            if not method or method.encode("latin-1", "replace").translate(None, _TOKEN):
                raise RuntimeApiError(f"invalid method {method[:20]!r}")
            _check_target(target)
            lines = [f"{method} {target} HTTP/1.1\r\n", self._prefix]
            lines.extend(_header_line(name, value) for name, value in request.headers)
        except RuntimeApiError as exc:
            self._phase = _BROKEN
            raise RuntimeApiError(f"cannot send {method} {target}: {exc}") from exc
        if body is None:
            self._phase = _AWAITING if method == "GET" else _STREAMING
            return "".join((*lines, "\r\n")).encode()
        if method != "GET" or body:
            lines.append(f"Content-Length: {len(body)}\r\n")
        self._phase = _AWAITING
        return "".join((*lines, "\r\n")).encode() + body

    def send_next(self) -> bytes:
        """``GET /runtime/invocation/next`` (pre-encoded)."""
        if self._phase is not _IDLE:
            self._expect(_IDLE)
        self._phase = _AWAITING
        return self._next

    def send_response_head(self, request_id: str, content_type: str, length: int) -> bytes:
        """The head of a buffered ``/response`` (the caller sends ``length`` body bytes after
        it); the same bytes as :meth:`send_request` with :func:`invocation_response`."""
        if self._phase is not _IDLE:
            self._expect(_IDLE)
        line = self._types.get(content_type)
        if line is None:
            line = self._types[content_type] = _header_line("Content-Type", content_type)
        self._phase = _AWAITING
        return (
            f"POST {API}/runtime/invocation/{_quote_id(request_id)}/response HTTP/1.1\r\n"
            f"{self._prefix}{line}Content-Length: {length}\r\n\r\n"
        ).encode()

    def send_stream_head(self, request_id: str) -> bytes:
        """The head of a streamed response (same bytes as :func:`streaming_response`)."""
        if self._phase is not _IDLE:
            self._expect(_IDLE)
        self._phase = _STREAMING
        return (
            f"POST {API}/runtime/invocation/{_quote_id(request_id)}/response HTTP/1.1\r\n"
            f"{self._prefix}{self._stream}"
        ).encode()

    def send_chunk(self, data: bytes) -> list[bytes]:
        """The framing pieces of one body chunk (``[]`` for empty data: never a 0-size chunk)."""
        if self._phase is not _STREAMING:
            self._expect(_STREAMING)
        if not data:
            return []
        return [b"%x\r\n" % len(data), data, b"\r\n"]

    def end_body(self, trailers: Headers = ()) -> bytes:
        """The terminating chunk, with trailers when given: ``0\\r\\n`` + trailer lines + CRLF."""
        self._expect(_STREAMING)
        if not trailers:
            self._phase = _AWAITING
            return b"0\r\n\r\n"
        try:
            lines = [_header_line(name, value) for name, value in trailers]
        except RuntimeApiError as exc:
            self._phase = _BROKEN
            raise RuntimeApiError(f"invalid trailers: {exc}") from exc
        self._phase = _AWAITING
        return ("0\r\n" + "".join(lines) + "\r\n").encode()

    # --- answers -----------------------------------------------------------------------------

    def receive(self, data: bytes | bytearray) -> ApiResponse | None:
        """Feed bytes read from the socket (``b""`` at EOF); the response once complete."""
        phase = self._phase
        if phase is not _AWAITING and phase is not _STREAMING:
            self._phase = _BROKEN
            if phase is _BROKEN:
                raise RuntimeApiError("the connection to the Runtime API is broken")
            if not data:
                raise RuntimeApiError("the Runtime API closed the connection")
            raise RuntimeApiError(f"unsolicited bytes from the Runtime API: {bytes(data[:80])!r}")
        try:
            if not data:
                return self._eof()
            rest = self._rest
            if not rest and self._state == _HEAD:
                # The usual case: one read holds a whole answer with a Content-Length body.
                end = data.find(b"\r\n\r\n")
                if 0 <= end <= MAX_HEAD:
                    first = _Head(data[:end])
                    if first.status >= 200 and first.length == len(data) - end - 4:
                        self._phase = _BROKEN if first.close or phase is _STREAMING else _IDLE
                        body = data[end + 4 :]
                        return ApiResponse(
                            first.status,
                            first.headers,
                            body if type(body) is bytes else bytes(body),
                            first.fields,
                        )
                    # anything else: the state machine below parses the head again
            if rest:
                rest += data
                buf: bytes | bytearray = rest
            else:
                buf = data
            response, pos = self._parse(buf)
            if buf is rest:
                del rest[:pos]
            elif pos < len(buf):
                rest += buf[pos:]
        except RuntimeApiError:
            self._phase = _BROKEN
            raise
        if response is not None:
            head = self._head
            if self._rest or phase is _STREAMING or (head is not None and head.close):
                self._phase = _BROKEN  # closing, or the server said more than it should
            else:
                self._phase = _IDLE
            self._rest.clear()
            self._reset()
        return response

    def _parse(self, buf: bytes | bytearray) -> tuple[ApiResponse | None, int]:
        """Advance the state machine over ``buf``; (response or None, bytes consumed)."""
        pos = 0
        size = len(buf)
        while True:
            state = self._state
            if state == _HEAD:
                end = buf.find(b"\r\n\r\n", max(pos, self._scan))
                if end < 0:
                    if size - pos > MAX_HEAD:
                        raise RuntimeApiError(f"response head larger than {MAX_HEAD} bytes")
                    self._scan = max(pos, size - 3) - pos  # relative to what stays
                    return None, pos
                if end - pos > MAX_HEAD:
                    raise RuntimeApiError(f"response head larger than {MAX_HEAD} bytes")
                head = _Head(buf[pos:end])
                pos = end + 4
                self._scan = 0
                if head.status < 200:
                    if head.status == 101:
                        raise RuntimeApiError("the Runtime API switched protocols")
                    continue  # an informational answer: the real one follows
                self._head = head
                if head.chunked:
                    self._state = _CHUNK_SIZE
                elif head.length is None:
                    self._state = _UNTIL_CLOSE
                elif head.length == 0:
                    return self._complete(b""), pos
                elif size - pos >= head.length:  # the whole body is here
                    end = pos + head.length
                    return self._complete(buf[pos:end]), end
                else:
                    self._need = head.length
                    self._state = _LENGTH
            elif state in (_LENGTH, _CHUNK_DATA):
                take = min(self._need, size - pos)
                if take:
                    self._body.append(buf[pos : pos + take])
                    pos += take
                    self._need -= take
                if self._need:
                    return None, pos
                if state == _LENGTH:
                    return self._complete(b"".join(self._body)), pos
                self._state = _CHUNK_END
            elif state == _CHUNK_SIZE:
                end = buf.find(b"\r\n", pos)
                if end < 0:
                    if size - pos > MAX_CHUNK_LINE:
                        raise RuntimeApiError("chunk-size line too long")
                    return None, pos
                if end - pos > MAX_CHUNK_LINE:
                    raise RuntimeApiError("chunk-size line too long")
                line = buf[pos:end]
                pos = end + 2
                digits = line.partition(b";")[0].rstrip(b" \t")
                if (
                    not digits
                    or len(digits) > 16
                    or digits.translate(None, _HEX)
                    or b"\n" in line
                    or b"\r" in line
                ):
                    raise RuntimeApiError(f"malformed chunk-size line {bytes(line[:80])!r}")
                self._need = int(digits, 16)
                self._state = _CHUNK_DATA if self._need else _TRAILERS
            elif state == _CHUNK_END:
                if size - pos < 2:
                    if size > pos and buf[pos] != 0x0D:
                        raise RuntimeApiError("chunk data longer than its size")
                    return None, pos
                if buf[pos] != 0x0D or buf[pos + 1] != 0x0A:
                    raise RuntimeApiError("chunk data longer than its size")
                pos += 2
                self._state = _CHUNK_SIZE
            elif state == _TRAILERS:
                if size - pos < 2:
                    return None, pos
                if buf[pos] == 0x0D and buf[pos + 1] == 0x0A:
                    return self._complete(b"".join(self._body)), pos + 2
                end = buf.find(b"\r\n\r\n", max(pos, self._scan))
                if end < 0:
                    if size - pos > MAX_HEAD:
                        raise RuntimeApiError(f"trailer section larger than {MAX_HEAD} bytes")
                    self._scan = max(pos, size - 3) - pos
                    return None, pos
                if end - pos > MAX_HEAD:
                    raise RuntimeApiError(f"trailer section larger than {MAX_HEAD} bytes")
                _parse_trailers(buf[pos:end])  # checked, then dropped
                return self._complete(b"".join(self._body)), end + 4
            else:  # _UNTIL_CLOSE
                if size > pos:
                    self._body.append(buf[pos:size])
                return None, size

    def _eof(self) -> ApiResponse:
        if self._state == _UNTIL_CLOSE:
            response = self._complete(b"".join(self._body))
            self._phase = _BROKEN
            self._rest.clear()
            self._reset()
            return response
        if self._state == _HEAD and not self._rest:
            raise RuntimeApiError("the Runtime API closed the connection")
        raise RuntimeApiError("the Runtime API closed the connection in the middle of an answer")

    def _complete(self, body: bytes | bytearray) -> ApiResponse:
        head = self._head
        assert head is not None
        return ApiResponse(
            head.status, head.headers, body if type(body) is bytes else bytes(body), head.fields
        )

    def _expect(self, phase: Phase) -> None:
        if self._phase is not phase:
            raise ResponseStateError(f"connection is {self._phase.value}, expected {phase.value}")
