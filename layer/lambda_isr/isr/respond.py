"""Writing answers to a :class:`~lambda_isr.runtime.writer.ResponseWriter`.

Every answer gets ``x-isr-cache``, ``Cache-Status`` and ``x-request-id``. Stored bodies come
from the in-process :class:`BodyCache` or the HTML store; their first chunk is read before the
head is sent, so a missing object is still a clean miss. HEAD answers never write a body.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from lambda_isr.clock import Clock
from lambda_isr.errors import LambdaIsrError, StoreError
from lambda_isr.http.conditional import if_none_match
from lambda_isr.http.response import error_page
from lambda_isr.isr import policy
from lambda_isr.isr.bodycache import BodyCache
from lambda_isr.isr.config import IsrConfig
from lambda_isr.isr.render import RenderStream
from lambda_isr.isr.states import CacheState
from lambda_isr.isr.trace import RequestTrace
from lambda_isr.runtime.writer import ResponseWriter
from lambda_isr.store.contract import CacheRecord, HtmlStore
from lambda_isr.store.keys import etag_for

_NOT_MODIFIED_OK = frozenset({200, 203})


class LateRenderError(LambdaIsrError):
    """The render (or the stream) failed after the head was sent; the response is failed."""


class Responder:
    def __init__(
        self,
        writer: ResponseWriter,
        *,
        request_id: str,
        if_none_match: str | None,
        head_only: bool,
        trace: RequestTrace,
        config: IsrConfig,
        clock: Clock,
        bodies: BodyCache,
        footer: Callable[[str], str],
    ) -> None:
        self.writer = writer
        self.request_id = request_id
        self._inm = if_none_match
        self.head_only = head_only
        self.trace = trace
        self.config = config
        self.clock = clock
        self.bodies = bodies
        self.footer = footer

    # --- heads ----------------------------------------------------------------------------

    def _start(
        self,
        status: int,
        headers: dict[str, str],
        state: CacheState,
        status_entry: str,
        cookies: list[str] | None = None,
    ) -> None:
        headers = {
            **headers,
            "x-isr-cache": state.value,
            "cache-status": status_entry,
            "x-request-id": self.request_id,
        }
        self.trace.state = state
        self.trace.status = status
        self.writer.start(status, headers, cookies or [])
        self.trace.mark("first_byte")

    def _write(self, chunk: bytes) -> None:
        if not self.head_only:
            self.writer.write(chunk)
            self.trace.bytes_sent += len(chunk)

    def page(
        self, status: int, state: CacheState, status_entry: str, extra: dict[str, str] | None = None
    ) -> None:
        """A small error page (never cacheable)."""
        headers = {"content-type": "text/html; charset=utf-8", "cache-control": policy.NO_STORE}
        self._start(status, {**headers, **(extra or {})}, state, status_entry)
        self._write(error_page(status, self.request_id))
        self.writer.end()

    # --- stored copies --------------------------------------------------------------------

    def _open(self, record: CacheRecord, html: HtmlStore | None) -> Iterator[bytes] | None:
        cached = self.bodies.get(record)
        if cached is not None:
            self.trace.count("BodyCacheHit")
            return iter((cached,))
        if html is None:
            return None
        try:
            with self.trace.timed("html_read"):
                stream = html.open(record.html_key)
        except (StoreError, ValueError):
            self.trace.log.warning("HTML store read failed", exc_info=True)
            return None
        if stream is None:
            self.trace.log.warning("HTML object missing behind pointer %s", record.html_key)
            return None
        chunks = stream.chunks
        bodies = self.bodies

        def body() -> Iterator[bytes]:
            copy: list[bytes] | None = [] if bodies.fits(record.size or 0) else None
            kept = 0
            try:
                for chunk in chunks:
                    if copy is not None:
                        kept += len(chunk)  # sizes of foreign records are unknown: bound it
                        if bodies.fits(kept):
                            copy.append(chunk)
                        else:
                            copy = None
                    yield chunk
            finally:
                stream.close()
            if copy is not None:
                bodies.put(record, b"".join(copy))

        return body()

    def record(
        self, record: CacheRecord, state: CacheState, status_entry: str, html: HtmlStore | None
    ) -> bool:
        """Serve a stored copy. ``False`` (nothing sent) when its body cannot be read."""
        now = self.clock.now()
        etag = record.etag or (etag_for(record.content_hash) if record.content_hash else None)
        headers = {"content-type": record.content_type, **dict(record.headers)}
        headers.update(policy.cache_control(state, record.remaining(now), self.config))
        if etag:
            headers["etag"] = etag
        if record.status in _NOT_MODIFIED_OK and if_none_match(self._inm, etag):
            headers.pop("content-type", None)
            self._start(304, headers, state, status_entry)
            self.writer.end()
            self.bodies.remember(record)
            return True
        if self.head_only:
            self._start(record.status, headers, state, status_entry)
            self.writer.end()
            return True
        body = self._open(record, html)
        if body is None:
            return False
        # A body of known size within the cacheable limit is read whole before the head goes
        # out: a broken or short read is then a miss, never a truncated page under CDN-cacheable
        # headers. Larger or unsized (foreign) bodies stream, and their head is not CDN-cacheable.
        whole = record.size is not None and record.size <= self.config.max_body_bytes
        try:
            first = b"".join(body) if whole else next(body, b"")
        except Exception:
            self.trace.log.warning("HTML store read failed", exc_info=True)
            return False
        if whole and len(first) != record.size:
            self.trace.log.warning(
                "stored body of %s has %d bytes, its record says %s: treated as a miss",
                record.html_key,
                len(first),
                record.size,
            )
            return False
        if not whole:
            headers["cache-control"] = policy.PRIVATE
            headers.pop("cdn-cache-control", None)
        self._start(record.status, headers, state, status_entry)
        self.bodies.remember(record)
        try:
            self._write(first)
            for chunk in body:
                self._write(chunk)
        except Exception as exc:
            self.late_failure(exc)
            return True
        self.writer.end()
        return True

    # --- renders --------------------------------------------------------------------------

    def render(
        self, stream: RenderStream, state: CacheState, status_entry: str, *, keep: bool
    ) -> bytes | None:
        """Stream a started render. Returns the whole body when ``keep`` and it ended cleanly
        within ``max_body_bytes``; ``None`` when not kept. Raises :class:`LateRenderError`
        (after failing the response) when the render or the stream broke midway."""
        headers = dict(stream.headers)
        no_store = policy.wants_no_store(headers)
        headers["cache-control"] = policy.NO_STORE if no_store else policy.PRIVATE
        headers.pop("cdn-cache-control", None)
        headers.setdefault("content-type", "text/html; charset=utf-8")
        self._start(stream.status, headers, state, status_entry, stream.cookies)
        copy: list[bytes] | None = [] if keep else None
        size = 0
        try:
            for chunk in stream.chunks():
                self._write(chunk)
                size += len(chunk)
                if copy is not None:
                    if size > self.config.max_body_bytes:
                        copy = None
                        self.trace.count("Oversize")
                        self.trace.detail = "oversize"
                    else:
                        copy.append(chunk)
        except Exception as exc:
            self.late_failure(exc)
            raise LateRenderError("render failed after its first byte") from exc
        self.writer.end()
        return b"".join(copy) if copy is not None else None

    def late_failure(self, exc: BaseException) -> None:
        """Footer, then the writer's error path; the client keeps what it already has."""
        self.trace.count("StreamError")
        self.trace.log.error("stream failed after the head was sent", exc_info=exc)
        try:
            if not self.head_only:
                self.writer.write(self.footer(self.request_id))
        except Exception:  # the stream itself may be what broke
            self.trace.log.warning("could not write the error footer", exc_info=True)
        try:
            self.writer.fail(exc)
        except Exception:
            self.trace.log.warning("could not fail the response", exc_info=True)
