"""Serving a stored generation: body from the in-process body cache or the HTML store.

A body of known size within ``max_body_bytes`` is read whole before the head goes out, so a
missing, broken or short object is a miss (``False``: nothing sent), never a truncated page under
CDN-cacheable headers. Larger or unsized (foreign) bodies stream, and their head is not
CDN-cacheable. Conditional requests get ``304``; HEAD gets the head only.
"""

from __future__ import annotations

from collections.abc import Iterator

from lambda_isr.errors import StoreError
from lambda_isr.http.conditional import if_none_match
from lambda_isr.isr import policy
from lambda_isr.isr.bodycache import BodyCache
from lambda_isr.isr.config import IsrConfig
from lambda_isr.isr.reply import Reply
from lambda_isr.isr.states import CacheState
from lambda_isr.store.contract import CacheRecord, HtmlStore
from lambda_isr.store.keys import etag_for

_NOT_MODIFIED_OK = frozenset({200, 203})


def _open(
    reply: Reply, record: CacheRecord, html: HtmlStore | None, bodies: BodyCache
) -> Iterator[bytes] | None:
    cached = bodies.get(record)
    trace = reply.trace
    if cached is not None:
        trace.count("BodyCacheHit")
        return iter((cached,))
    if html is None:
        return None
    try:
        with trace.timed("html_read"):
            stream = html.open(record.html_key)
    except (StoreError, ValueError):
        trace.log.warning("HTML store read failed", exc_info=True)
        return None
    if stream is None:
        trace.log.warning("HTML object missing behind pointer %s", record.html_key)
        return None
    chunks = stream.chunks

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


def serve_record(
    reply: Reply,
    record: CacheRecord,
    state: CacheState,
    status_entry: str,
    *,
    now: float,
    html: HtmlStore | None,
    bodies: BodyCache,
    config: IsrConfig,
    inm: str | None,
) -> bool:
    """Serve a stored copy. ``False`` (nothing sent) when its body cannot be read."""
    etag = record.etag or (etag_for(record.content_hash) if record.content_hash else None)
    headers = {"content-type": record.content_type, **dict(record.headers)}
    headers.update(policy.cache_control(state, record.remaining(now), config))
    if etag:
        headers["etag"] = etag
    if record.status in _NOT_MODIFIED_OK and if_none_match(inm, etag):
        headers.pop("content-type", None)
        reply.start(304, headers, state, status_entry)
        reply.end()
        bodies.remember(record)
        return True
    if reply.head_only:
        reply.start(record.status, headers, state, status_entry)
        reply.end()
        return True
    body = _open(reply, record, html, bodies)
    if body is None:
        return False
    whole = record.size is not None and record.size <= config.max_body_bytes
    try:
        first = b"".join(body) if whole else next(body, b"")
    except Exception:
        reply.trace.log.warning("HTML store read failed", exc_info=True)
        return False
    if whole and len(first) != record.size:
        reply.trace.log.warning(
            "stored body of %s has %d bytes, its record says %s: treated as a miss",
            record.html_key,
            len(first),
            record.size,
        )
        return False
    if not whole:
        headers["cache-control"] = policy.PRIVATE
        headers.pop("cdn-cache-control", None)
    reply.start(record.status, headers, state, status_entry)
    bodies.remember(record)
    try:
        reply.write(first)
        for chunk in body:
            reply.write(chunk)
    except Exception as exc:
        reply.late_failure(exc)
        return True
    reply.end()
    return True
