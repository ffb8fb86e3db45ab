"""Serving a stored generation: body from the in-process body cache or the HTML store.

A body of known size within ``max_body_bytes`` is read whole before the head goes out, and
checked against its record: its length, and its content hash when one is recorded (lambda-isr's
records always have one). So a missing, broken, short or damaged object (a same-length bit flip)
is a miss (``False``: nothing sent) and regenerates, never a page under CDN-cacheable headers.
Larger or unsized (foreign) bodies stream, and their head is not CDN-cacheable; a streamed body
that fails its hash at the end breaks the answer (error footer) and is not cached. Only a body
that passed is kept in the in-process body cache. Conditional requests get ``304``; HEAD gets
the head only.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

from lambda_isr.errors import StoreError
from lambda_isr.http.conditional import if_none_match
from lambda_isr.isr import policy
from lambda_isr.isr.bodycache import BodyCache
from lambda_isr.isr.config import IsrConfig
from lambda_isr.isr.reply import Reply
from lambda_isr.isr.states import CacheState
from lambda_isr.store.contract import CacheRecord, HtmlStore, HtmlStream
from lambda_isr.store.keys import content_hasher, etag_for

_NOT_MODIFIED_OK = frozenset({200, 203})


class DamagedBodyError(Exception):
    """A stored body does not match the content hash its record holds."""


def _hasher(record: CacheRecord) -> hashlib._Hash | None:
    """The running check of ``record``'s body (``None`` when the record holds no content hash:
    a foreign writer's, which can only be checked by its size)."""
    if record.content_hash is None:
        return None
    return content_hasher(
        status=record.status, content_type=record.content_type, headers=record.headers
    )


def _fetch(
    reply: Reply, record: CacheRecord, html: HtmlStore | None, bodies: BodyCache
) -> bytes | HtmlStream | None:
    """A record's body from the body cache, else its opened stream (``None`` when there is
    none: nothing to serve)."""
    cached = bodies.get(record)
    trace = reply.trace
    if cached is not None:
        trace.count("BodyCacheHit")
        return cached
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
    return stream


def _open(
    reply: Reply, record: CacheRecord, html: HtmlStore | None, bodies: BodyCache
) -> Iterator[bytes] | None:
    fetched = _fetch(reply, record, html, bodies)
    if fetched is None or isinstance(fetched, bytes):
        return None if fetched is None else iter((fetched,))
    stream = fetched
    chunks = stream.chunks

    def body() -> Iterator[bytes]:
        copy: list[bytes] | None = [] if bodies.fits(record.size or 0) else None
        size = 0
        check = _hasher(record)
        try:
            for chunk in chunks:
                size += len(chunk)
                if copy is not None:
                    if bodies.fits(size):  # sizes of foreign records are unknown: bound it
                        copy.append(chunk)
                    else:
                        copy = None
                if check is not None:
                    check.update(chunk)
                yield chunk
        finally:
            stream.close()
        wrong = record.size is not None and size != record.size
        if wrong or (check is not None and check.hexdigest() != record.content_hash):
            stream.damaged()  # the store may remember it as good: no more
            raise DamagedBodyError(
                f"stored body of {record.html_key} ({size} bytes) does not match its record"
            )
        if copy is not None:
            bodies.put(record, b"".join(copy))

    return body()


def _read_whole(record: CacheRecord, stream: HtmlStream, bodies: BodyCache) -> bytes:
    """Read a stored body whole, join it once, check it once (its length, then one hash over
    the joined bytes) and keep those very bytes in the body cache. Raises
    :class:`DamagedBodyError` when it does not match its record."""
    try:
        parts = list(stream.chunks)
    finally:
        stream.close()
    body = parts[0] if len(parts) == 1 else b"".join(parts)
    if len(body) != record.size or (
        record.content_hash is not None and _digest(record, body) != record.content_hash
    ):
        stream.damaged()  # the store may remember it as good: no more
        raise DamagedBodyError(
            f"stored body of {record.html_key} ({len(body)} bytes) does not match its record"
        )
    bodies.put(record, body)
    return body


def _digest(record: CacheRecord, body: bytes) -> str:
    check = _hasher(record)
    assert check is not None
    check.update(body)
    return check.hexdigest()


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
        reply.respond(304, headers, state, status_entry, b"")
        bodies.remember(record)
        return True
    if reply.head_only:
        reply.respond(record.status, headers, state, status_entry, b"")
        return True
    if record.size is not None and record.size <= config.max_body_bytes:
        whole = _whole_body(reply, record, html, bodies)
        if whole is None:
            return False
        # Checked whole: head, body and end leave in one write.
        reply.respond(record.status, headers, state, status_entry, whole)
        bodies.remember(record)
        return True
    return _stream(reply, record, html, bodies, head=(headers, state, status_entry))


def _whole_body(
    reply: Reply, record: CacheRecord, html: HtmlStore | None, bodies: BodyCache
) -> bytes | None:
    """A body of known size, read and checked whole; ``None`` when it cannot be served."""
    fetched = _fetch(reply, record, html, bodies)
    if fetched is None or isinstance(fetched, bytes):
        return fetched
    try:
        return _read_whole(record, fetched, bodies)
    except Exception as exc:
        _unreadable(reply, exc)
        return None


def _unreadable(reply: Reply, exc: Exception) -> None:
    """Log why a stored body cannot be served (the request then goes on as a miss)."""
    if isinstance(exc, DamagedBodyError):
        reply.trace.log.warning("%s: treated as a miss", exc)
        reply.trace.count("DamagedBody")
    else:
        reply.trace.log.warning("HTML store read failed", exc_info=exc)


def _stream(
    reply: Reply,
    record: CacheRecord,
    html: HtmlStore | None,
    bodies: BodyCache,
    *,
    head: tuple[dict[str, str], CacheState, str],
) -> bool:
    """A larger or unsized (foreign) body, streamed under a head no CDN may cache; its check
    comes at the end (a failed one breaks the answer and is not cached)."""
    body = _open(reply, record, html, bodies)
    if body is None:
        return False
    try:
        first = next(body, b"")
    except Exception as exc:
        _unreadable(reply, exc)
        return False
    headers, state, status_entry = head
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
