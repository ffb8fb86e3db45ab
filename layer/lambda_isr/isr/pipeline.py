"""The render pipeline: render -> capture -> publish, with or without a client.

:func:`run_render` takes a render (a zero-argument callable that starts the face), a
:class:`~lambda_isr.isr.reply.Reply` on some sink and, for a cached render, a :class:`Lease`.
The same code serves a streamed miss (:class:`StreamingSink`), a buffered miss
(:class:`BufferedSink`), a render after the response ended and a render with no client at all
(:class:`DetachedSink`: a build, a queue message).

1. The lease keeper starts (it belongs to the pipeline: a render longer than half the lease
   keeps its lease, whoever asked for it).
2. The render starts (first chunk, or all of it for an eager sink). A failure here is *early*:
   nothing was sent, the lease is released and the caller decides what to answer.
3. The head goes out, then every chunk, while a copy is kept when the head is cacheable and the
   body stays within ``max_body_bytes``. A failure here is *late*: the reply's error boundary
   ends the answer, nothing is stored, the lease is released.
4. The answer ends, **then** the body is written to the HTML store and the generation committed
   under the lease (the client never waits for the store). A fenced-off commit (a newer
   generation or a later purge) or a lost lease is logged and counted, never raised.

Hit-for-pass: as soon as a cached render shows its page cannot be stored (its head: a cookie,
``private``/``no-store``, a status outside the set, a header no backend can store; or its body
crossing ``max_body_bytes``), the lease becomes a hit-for-pass marker for
``hit_for_pass_seconds`` instead of waiting to be released: requests that would wait for it
render uncached, in parallel, and nobody queues on a lease that cannot produce a copy.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from lambda_isr.clock import Clock
from lambda_isr.errors import CommitFencedError, LeaseNotOwnedError, StoreError
from lambda_isr.isr import policy
from lambda_isr.isr.bodycache import BodyCache
from lambda_isr.isr.config import IsrConfig
from lambda_isr.isr.events import RenderOutcome
from lambda_isr.isr.lease_keeper import LeaseKeeper
from lambda_isr.isr.passes import PassMemo
from lambda_isr.isr.render import RenderStream
from lambda_isr.isr.reply import Reply
from lambda_isr.isr.states import CacheState
from lambda_isr.store.contract import DEFAULT_CONTENT_TYPE, CacheRecord, Lease, PassMarker, Store

StartRender = Callable[[], RenderStream]


@dataclass(frozen=True, slots=True)
class RenderResult:
    outcome: RenderOutcome
    reason: str | None = None
    """Why the render was not stored, when it was not."""


@dataclass(frozen=True, slots=True)
class Publisher:
    """What a cached render needs to store its generation."""

    store: Store
    cache_key: str
    lease: Lease
    clock: Clock
    bodies: BodyCache
    keeper_poll: float = 0.25
    passes: PassMemo | None = None


def run_render(
    start: StartRender,
    reply: Reply,
    *,
    state: CacheState,
    status_entry: str,
    config: IsrConfig,
    publisher: Publisher | None = None,
) -> RenderResult:
    """Render onto ``reply``; store the page when ``publisher`` is given and it may be."""
    keeper: LeaseKeeper | None = None
    trace = reply.trace
    if publisher is not None:
        keeper = LeaseKeeper(
            publisher.store.meta,
            publisher.lease,
            config.lease_seconds,
            publisher.clock,
            trace.log,
            poll=publisher.keeper_poll,
            every=config.lease_refresh_seconds,
        ).start()
    committed = marked = False

    def not_storable() -> None:
        nonlocal marked
        if publisher is not None and keeper is not None and not marked:
            marked = _mark_pass(publisher, keeper, config, reply)

    try:
        generated_at = publisher.clock.now() if publisher is not None else 0.0
        try:
            with trace.timed("render"):
                stream = start()
        except Exception:
            trace.log.exception("render failed before its first byte")
            trace.count("RenderError")
            return RenderResult(RenderOutcome.EARLY_FAILURE, "render-error")
        reason = policy.uncacheable_reason(stream.status, stream.headers, stream.cookies, config)
        if publisher is None:
            reason = reason or "no-lease"
        elif reason is not None:
            not_storable()
        try:
            with trace.timed("render"):
                body = _stream(
                    stream,
                    reply,
                    state,
                    status_entry,
                    config,
                    keep=reason is None,
                    dropped=not_storable,
                )
        except _LateError:
            return RenderResult(RenderOutcome.LATE_FAILURE, "late-failure")
        finally:
            _close(stream, reply)
        if reason is None and body is None:
            reason = "oversize"
        if reason is not None and reason != "no-lease":
            trace.detail = reason
            trace.count("Oversize" if reason == "oversize" else "Uncacheable")
            if reason == policy.NOT_STORABLE:
                trace.log.warning(
                    "a response header or the content type is not printable ASCII, which not"
                    " every store can keep (S3 metadata): page served, not stored"
                )
        if body is None or publisher is None or keeper is None:
            return RenderResult(RenderOutcome.NOT_STORED, reason)
        committed = _publish(
            publisher,
            keeper=keeper,
            stream=stream,
            body=body,
            generated_at=generated_at,
            config=config,
            reply=reply,
        )
        return RenderResult(
            RenderOutcome.COMMITTED if committed else RenderOutcome.NOT_STORED,
            None if committed else "commit-failed",
        )
    finally:
        if keeper is not None:
            final = keeper.stop()
            trace.count("LeaseRefresh", keeper.refreshes)
            if not committed and not marked and publisher is not None:
                release(publisher.store, final, reply)


class _LateError(Exception):
    pass


def _stream(
    stream: RenderStream,
    reply: Reply,
    state: CacheState,
    status_entry: str,
    config: IsrConfig,
    *,
    keep: bool,
    dropped: Callable[[], None],
) -> bytes | None:
    headers = dict(stream.headers)
    no_store = policy.wants_no_store(headers)
    headers["cache-control"] = policy.NO_STORE if no_store else policy.PRIVATE
    headers.pop("cdn-cache-control", None)
    headers.setdefault("content-type", DEFAULT_CONTENT_TYPE)
    reply.start(stream.status, headers, state, status_entry, stream.cookies)
    copy: list[bytes] | None = [] if keep else None
    size = 0
    try:
        for chunk in stream.chunks():
            reply.write(chunk)
            size += len(chunk)
            if copy is not None:
                if size > config.max_body_bytes:
                    copy = None
                    dropped()  # oversize: this page cannot be stored
                else:
                    copy.append(chunk)
    except Exception as exc:
        reply.late_failure(exc)
        raise _LateError from exc
    reply.end()
    return b"".join(copy) if copy is not None else None


def _publish(
    p: Publisher,
    *,
    keeper: LeaseKeeper,
    stream: RenderStream,
    body: bytes,
    generated_at: float,
    config: IsrConfig,
    reply: Reply,
) -> bool:
    trace = reply.trace
    headers = policy.stored_headers(stream.headers)
    content_type = stream.headers.get("content-type", DEFAULT_CONTENT_TYPE)
    try:
        with trace.timed("commit"):
            obj = p.store.html.put(
                p.cache_key, body, status=stream.status, content_type=content_type, headers=headers
            )
            record = CacheRecord(
                cache_key=p.cache_key,
                html_key=obj.key,
                generated_at=generated_at,
                revalidate_seconds=config.revalidate,
                etag=obj.etag,
                status=stream.status,
                content_type=content_type,
                headers=headers,
                content_hash=obj.content_hash or None,
                size=len(body),
                route=config.route,
                tags=config.tags | stream.tags,
                static=config.static,
            )
            p.store.meta.commit_generation(keeper.stop(), record)
    except CommitFencedError:
        trace.log.warning("a newer generation or a later purge is stored; this one was dropped")
        trace.count("LeaseLost")
        return False
    except LeaseNotOwnedError:
        trace.log.warning("regeneration lease lost before commit; page served, not stored")
        trace.count("LeaseLost")
        return False
    except StoreError:
        trace.log.warning("storing the generation failed", exc_info=True)
        trace.count("CommitFailed")
        return False
    trace.stored = True
    p.bodies.put(record, body)
    p.bodies.remember(record)
    return True


def _mark_pass(p: Publisher, keeper: LeaseKeeper, config: IsrConfig, reply: Reply) -> bool:
    """Turn the lease into a hit-for-pass marker (``False``: not marked; release it later)."""
    seconds, meta = config.hit_for_pass_seconds, p.store.meta
    if seconds <= 0 or not isinstance(meta, PassMarker):
        return False
    lease = keeper.stop()
    try:
        marked = meta.mark_uncacheable(lease, seconds)
    except StoreError:
        reply.trace.log.warning("leaving the hit-for-pass marker failed", exc_info=True)
        return False
    if marked:
        reply.trace.count("HitForPassMarked")
        if p.passes is not None:
            p.passes.note(p.cache_key, p.clock.now() + seconds)
    return marked


def release(store: Store, lease: Lease, reply: Reply) -> None:
    """Best-effort lease release (an unreleased lease expires by itself)."""
    try:
        store.meta.release_lease(lease)
    except StoreError:
        reply.trace.log.warning("lease release failed (it will expire)", exc_info=True)


def _close(stream: RenderStream, reply: Reply) -> None:
    try:
        stream.close()
    except Exception:
        reply.trace.log.warning("closing the render failed", exc_info=True)
