"""One request's answer on a sink, and the one error boundary of lambda-isr.

Every answer gets ``x-isr-cache``, ``Cache-Status`` and ``x-request-id``; HEAD answers never
write a body. The two ways an answer can go wrong are handled here and nowhere else:

- :meth:`Reply.page`: the small error page (400, 404, 500, 503), never cacheable, built by
  :func:`~lambda_isr.http.response.error_page` from the status and the request id only;
- :meth:`Reply.late_failure`: the render or the stream broke after the head was sent. The error
  footer is written, then the sink's error path (error trailers under the runtime); the client
  keeps what it has. The caller never stores such a body and releases its lease.
"""

from __future__ import annotations

from collections.abc import Callable

from lambda_isr.http.response import error_page
from lambda_isr.isr import policy
from lambda_isr.isr.sink import Sink
from lambda_isr.isr.states import CacheState
from lambda_isr.isr.trace import RequestTrace

Footer = Callable[[str], str]


class Reply:
    """Writes one request's answer (see module docstring)."""

    def __init__(
        self,
        sink: Sink,
        *,
        request_id: str,
        head_only: bool,
        trace: RequestTrace,
        footer: Footer,
    ) -> None:
        self.sink = sink
        self.request_id = request_id
        self.head_only = head_only
        self.trace = trace
        self.footer = footer

    @property
    def started(self) -> bool:
        return self.sink.started

    def _head(
        self, status: int, headers: dict[str, str], state: CacheState, status_entry: str
    ) -> dict[str, str]:
        self.trace.state = state
        self.trace.status = status
        return {
            **headers,
            "x-isr-cache": state.value,
            "cache-status": status_entry,
            "x-request-id": self.request_id,
        }

    def start(
        self,
        status: int,
        headers: dict[str, str],
        state: CacheState,
        status_entry: str,
        cookies: list[str] | None = None,
    ) -> None:
        self.sink.start(status, self._head(status, headers, state, status_entry), cookies or [])
        self.trace.mark("first_byte")

    def respond(
        self,
        status: int,
        headers: dict[str, str],
        state: CacheState,
        status_entry: str,
        body: bytes,
    ) -> None:
        """A whole answer known up front (a stored page, a 304, an error page): head, body
        and end in one write on the live stream. HEAD answers drop the body."""
        if self.head_only:
            body = b""
        self.trace.mark("first_byte")
        self.sink.respond(status, self._head(status, headers, state, status_entry), [], body)
        self.trace.bytes_sent += len(body)

    def write(self, chunk: bytes) -> None:
        if not self.head_only:
            self.sink.write(chunk)
            self.trace.bytes_sent += len(chunk)

    def end(self) -> None:
        self.sink.end()

    def page(
        self, status: int, state: CacheState, status_entry: str, extra: dict[str, str] | None = None
    ) -> None:
        """A small error page (never cacheable)."""
        headers = {"content-type": "text/html; charset=utf-8", "cache-control": policy.NO_STORE}
        body = error_page(status, self.request_id)
        self.respond(status, {**headers, **(extra or {})}, state, status_entry, body)

    def late_failure(self, exc: BaseException) -> None:
        """Footer, then the sink's error path; the client keeps what it already has."""
        self.trace.count("StreamError")
        self.trace.log.error("stream failed after the head was sent", exc_info=exc)
        if self.sink.finished:
            return
        try:
            if not self.head_only:
                self.sink.write(self.footer(self.request_id))
        except Exception:  # the stream itself may be what broke
            self.trace.log.warning("could not write the error footer", exc_info=True)
        try:
            self.sink.fail(exc)
        except Exception:
            self.trace.log.warning("could not fail the response", exc_info=True)

    def fail_safe(self, exc: BaseException, status: int = 500) -> None:
        """Answer an unexpected failure wherever the answer stands: an error page before the
        head, the late-failure path after it, nothing once it is finished."""
        if not self.sink.started:
            self.page(status, CacheState.BYPASS, policy.cache_status(fwd="bypass", detail="error"))
        elif not self.sink.finished:
            self.late_failure(exc)
