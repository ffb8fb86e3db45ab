"""The live response writer: a :class:`~lambda_isr.runtime.writer.ResponseWriter` bound to one
invocation, on the Runtime API client's connection (every ``write`` leaves on the wire at once;
``respond`` sends a whole answer known up front in one write)."""

from __future__ import annotations

from enum import Enum

from lambda_isr.errors import ResponseStateError, RuntimeApiError
from lambda_isr.runtime import protocol

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from collections.abc import Sequence

    from lambda_isr.runtime.client import RuntimeApiClient
    from lambda_isr.runtime.protocol import ApiResponse
    from lambda_isr.runtime.writer import HeaderInput


def _to_bytes(data: bytes | bytearray | memoryview | str) -> bytes:
    """:func:`lambda_isr.runtime.writer.to_bytes`, without importing the writer module."""
    if type(data) is bytes:
        return data
    if isinstance(data, str):
        return data.encode("utf-8")
    if isinstance(data, bytes | bytearray | memoryview):
        return bytes(data)
    raise TypeError(f"response body chunks must be str or bytes, got {type(data).__name__}")


class WriterState(Enum):
    NEW = "new"
    STREAMING = "streaming"
    ENDED = "ended"
    FAILED = "failed"


_NEW = WriterState.NEW
_WRITING = WriterState.STREAMING
_ENDED = WriterState.ENDED
_FAILED = WriterState.FAILED


class LiveWriter:
    """A :class:`~lambda_isr.runtime.writer.ResponseWriter` bound to one invocation: every
    ``write`` leaves on the wire at once."""

    __slots__ = ("_client", "_size", "request_id", "response", "state")

    def __init__(self, client: RuntimeApiClient, request_id: str) -> None:
        self._client = client
        self.request_id = request_id
        self.state = _NEW
        self._size = 0
        self.response: ApiResponse | None = None

    @property
    def started(self) -> bool:
        return self.state is not _NEW

    @property
    def finished(self) -> bool:
        return self.state is _ENDED or self.state is _FAILED

    @property
    def bytes_written(self) -> int:
        return self._size

    def start(
        self, status: int = 200, headers: HeaderInput | None = None, cookies: Sequence[str] = ()
    ) -> None:
        if self.state is not _NEW:
            raise ResponseStateError("response already started")
        from lambda_isr.runtime.writer import normalise_head  # noqa: PLC0415 - streaming only

        prelude = protocol.encode_prelude(*normalise_head(status, headers, cookies))
        self.state = _WRITING
        try:
            self._client.stream_open(self.request_id, prelude)
        except RuntimeApiError:
            self.state = _FAILED
            raise

    def respond(
        self, status: int, headers: HeaderInput | None, cookies: Sequence[str], body: bytes
    ) -> None:
        """``start``, ``write(body)`` and ``end`` at once: a whole answer known up front (a
        stored page, an error page) leaves in one write instead of four."""
        if self.state is not _NEW:
            raise ResponseStateError("response already started")
        from lambda_isr.runtime.writer import normalise_head  # noqa: PLC0415 - streaming only

        prelude = protocol.encode_prelude(*normalise_head(status, headers, cookies))
        chunk = _to_bytes(body)
        self.state = _ENDED
        try:
            self.response = self._client.stream_whole(self.request_id, prelude, chunk)
        except RuntimeApiError:
            self.state = _FAILED
            raise
        self._size = len(chunk)

    def write(self, data: bytes | str) -> None:
        state = self.state
        if state is _ENDED or state is _FAILED:
            raise ResponseStateError("write after the response ended")
        chunk = _to_bytes(data)
        if state is _NEW:
            self.start()
        if chunk:
            try:
                self._client.stream_chunk(chunk)
            except RuntimeApiError:
                self.state = _FAILED
                raise
            self._size += len(chunk)

    def end(self) -> None:
        if self.finished:
            raise ResponseStateError("response already ended")
        if self.state is _NEW:
            self.start()
        self.state = _ENDED
        try:
            self.response = self._client.stream_close()
        except RuntimeApiError:
            self.state = _FAILED
            raise

    def fail(self, error: BaseException) -> None:
        if self.finished:
            raise ResponseStateError("response already ended")
        payload = protocol.error_payload(error, self.request_id)
        if self.state is _NEW:
            self.state = _FAILED
            self._client.post_error(self.request_id, payload)
            return
        self.state = _FAILED
        trailers = protocol.error_trailers(payload)
        self.response = self._client.stream_close(trailers)
