"""The blocking-ISR state machine, one request at a time.

::

    key -> get ─ fresh ───────────────────────────────────────────────> HIT
              ├ stale/missing -> acquire ─ won -> re-check ─ fresh ───> HIT
              │                          │               └ render ──> MISS (stream, end, store,
              │                          │                              commit) | STALE_ERROR | 500
              │                          └ held ─ stale + SERVE_STALE -> STALE
              │                                  └ poll ─ new gen ───> WAIT_HIT
              │                                         ├ lease expired -> acquire again
              │                                         └ timeout ─ stale -> STALE | BYPASS
              └ store down -> last copy this process served -> STALE | 503

The client never waits for the store: the response ends before the HTML write and the commit.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from lambda_isr.clock import Clock
from lambda_isr.errors import InvalidEventError, StoreError, TenantRequiredError
from lambda_isr.http.request import FaceRequest
from lambda_isr.http.response import default_footer
from lambda_isr.isr import policy
from lambda_isr.isr.bodycache import BodyCache
from lambda_isr.isr.commit import publish
from lambda_isr.isr.config import ContentionPolicy, IsrConfig
from lambda_isr.isr.keys import build_key, cache_view
from lambda_isr.isr.lease_keeper import LeaseKeeper
from lambda_isr.isr.policy import cache_status
from lambda_isr.isr.render import RenderStream
from lambda_isr.isr.respond import LateRenderError, Responder
from lambda_isr.isr.states import CacheState
from lambda_isr.isr.trace import RequestTrace
from lambda_isr.runtime.writer import ResponseWriter
from lambda_isr.store.contract import CacheRecord, Lease, LeaseHeld, Store

RETRY_AFTER_SECONDS = 5
LEASE_RETRY_SECONDS = 0.5
"""How often a waiter retries the lease (a conditional write) besides polling the record."""
RenderFn = Callable[[FaceRequest], RenderStream]
Remaining = Callable[[], "float | None"]


class IsrEngine:
    """Shared per-face state: configuration, the lazily created store, the body cache."""

    def __init__(
        self,
        config: IsrConfig,
        store: Callable[[], Store],
        *,
        clock: Clock,
        bodies: BodyCache | None = None,
        footer: Callable[[str], str] = default_footer,
        keeper_poll: float = 0.25,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self.config = config
        self.store = store
        self.clock = clock
        self.bodies = bodies if bodies is not None else BodyCache()
        self.footer = footer
        self.keeper_poll = keeper_poll
        self.jitter = jitter

    def serve(
        self,
        request: FaceRequest,
        writer: ResponseWriter,
        render: RenderFn,
        trace: RequestTrace,
        remaining: Remaining = lambda: None,
    ) -> None:
        """Answer ``request`` on ``writer``; ``render(request)`` starts the face (first chunk
        pulled)."""
        _Cycle(
            self, request=request, writer=writer, render=render, trace=trace, remaining=remaining
        ).run()


class _Cycle:
    def __init__(
        self,
        engine: IsrEngine,
        *,
        request: FaceRequest,
        writer: ResponseWriter,
        render: RenderFn,
        trace: RequestTrace,
        remaining: Remaining,
    ) -> None:
        self.e = engine
        self.cfg = engine.config
        self.clock = engine.clock
        self.request = request
        self.render_fn = render
        self.trace = trace
        self.log = trace.log
        self.remaining = remaining
        self.key = ""
        self.store: Store | None = None
        self.out = Responder(
            writer,
            request_id=request.response_request_id,
            if_none_match=request.headers.get("if-none-match"),
            head_only=request.method == "HEAD",
            trace=trace,
            config=engine.config,
            clock=engine.clock,
            bodies=engine.bodies,
            footer=engine.footer,
        )

    # --- entry ----------------------------------------------------------------------------

    def run(self) -> None:
        if self.request.method not in ("GET", "HEAD"):
            return self.bypass("method", None)
        try:
            decision = build_key(self.request, self.cfg.keys)
        except TenantRequiredError:
            self.log.warning("tenant header without a tenant rule: failing closed")
            self.trace.count("TenantRejected")
            entry = cache_status(fwd="bypass", detail="tenant-required")
            return self.out.page(500, CacheState.BYPASS, entry)
        except InvalidEventError:
            return self.out.page(400, CacheState.BYPASS, cache_status(fwd="bypass"))
        if decision.key is None:
            return self.bypass("bypass", decision.bypass_reason)
        self.key = self.trace.cache_key = decision.key
        try:
            self.store = self.e.store()
            with self.trace.timed("metadata_read"):
                record = self.store.meta.get(self.key)
        except StoreError:
            return self.store_down()
        now = self.clock.now()
        if record is not None and record.is_fresh(now):
            if self.serve(record, CacheState.HIT):
                return None
            record = None  # pointer to a missing object: a miss
        elif self.request.method == "HEAD":
            # HEAD never renders into the cache: a face may answer HEAD with an empty body,
            # which must not become the page GET requests are served.
            if record is not None and self.serve(record, CacheState.STALE):
                return None
            return self.bypass("bypass", "head")
        return self.regenerate(record)

    # --- helpers --------------------------------------------------------------------------

    @property
    def _store(self) -> Store:
        assert self.store is not None
        return self.store

    def serve(self, record: CacheRecord, state: CacheState, detail: str | None = None) -> bool:
        now = self.clock.now()
        if state is CacheState.HIT:
            entry = cache_status(hit=True, ttl=record.remaining(now))
        elif state is CacheState.WAIT_HIT:
            entry = cache_status(fwd="miss", collapsed=True, ttl=record.remaining(now))
        elif state is CacheState.STALE_ERROR:
            entry = cache_status(fwd="stale", detail=detail or "render-error")
        else:
            entry = cache_status(hit=True, ttl=-(now - record.fresh_until), detail=detail)
        html = self.store.html if self.store is not None else None
        if detail:
            self.trace.detail = detail
        return self.out.record(record, state, entry, html)

    def release(self, lease: Lease) -> None:
        try:
            self._store.meta.release_lease(lease)
        except StoreError:
            self.log.warning("lease release failed (it will expire)", exc_info=True)

    # --- branches -------------------------------------------------------------------------

    def store_down(self) -> None:
        self.log.warning("metadata store unavailable", exc_info=True)
        self.trace.count("StoreUnavailable")
        last = self.e.bodies.last(self.key) if self.key else None
        if last is not None and self.serve(last, CacheState.STALE, "store-unavailable"):
            return
        self.trace.detail = "store-unavailable"
        entry = cache_status(fwd="bypass", detail="store-unavailable")
        retry = {"retry-after": str(RETRY_AFTER_SECONDS)}
        self.out.page(503, CacheState.BYPASS, entry, retry)

    def regenerate(self, record: CacheRecord | None) -> None:
        try:
            got = self._store.meta.try_acquire_lease(self.key, self.cfg.lease_seconds)
        except StoreError:
            self.log.warning("lease acquisition failed", exc_info=True)
            self.trace.count("StoreUnavailable")
            if record is not None and self.serve(record, CacheState.STALE, "store-unavailable"):
                return None
            return self.bypass("bypass", "store-unavailable")
        if isinstance(got, Lease):
            return self.render_with_lease(got, record)
        self.trace.count("LeaseContention")
        if (
            record is not None
            and self.cfg.contention is ContentionPolicy.SERVE_STALE
            and self.serve(record, CacheState.STALE)
        ):
            return None
        return self.wait(record, got)

    def wait(self, record: CacheRecord | None, held: LeaseHeld) -> None:
        budget = self.cfg.wait_timeout
        left_in_lambda = self.remaining()
        if left_in_lambda is not None:
            budget = min(budget, left_in_lambda - self.cfg.deadline_margin)
        meta = self._store.meta
        end = self.clock.monotonic() + budget
        retry_every = max(LEASE_RETRY_SECONDS, self.cfg.poll_interval)
        next_try = self.clock.monotonic() + retry_every
        with self.trace.timed("wait"):
            while (left := end - self.clock.monotonic()) > 0:
                self.clock.sleep(min(left, self.cfg.poll_interval * (0.5 + self.e.jitter())))
                try:
                    current = meta.get(self.key)
                    if current is not None and (
                        record is None or current.generated_at > record.generated_at
                    ):
                        if self.serve(current, CacheState.WAIT_HIT):
                            return None
                        record = current  # committed, but its body is unreadable
                    expired = held.expires_at is not None and self.clock.now() >= held.expires_at
                    # The holder may also have released its lease without committing (an
                    # uncacheable answer, an early failure, a lost commit): retry the lease
                    # now and then, not only after its expiry, so nobody waits for nothing.
                    if expired or self.clock.monotonic() >= next_try:
                        next_try = self.clock.monotonic() + retry_every
                        got = meta.try_acquire_lease(self.key, self.cfg.lease_seconds)
                        if isinstance(got, Lease):
                            self.trace.count("LeaseTakeover")
                            return self.render_with_lease(got, current or record)
                        held = got
                except StoreError:
                    self.log.warning("store failed while waiting for a lease holder", exc_info=True)
                    break
        self.trace.count("WaitTimeout")
        if record is not None and self.serve(record, CacheState.STALE, "wait-timeout"):
            return None
        return self.bypass("bypass", "wait-timeout")

    def bypass(self, fwd: str, detail: str | None) -> None:
        """Render and stream, never store."""
        self.trace.detail = detail
        entry = cache_status(fwd=fwd, detail=detail)
        try:
            with self.trace.timed("render"):
                stream = self.render_fn(self.request)
        except Exception:
            self.log.exception("render failed before its first byte")
            self.trace.count("RenderError")
            return self.out.page(500, CacheState.BYPASS, cache_status(fwd=fwd, detail="error"))
        try:
            with self.trace.timed("render"):
                self.out.render(stream, CacheState.BYPASS, entry, keep=False)
        except LateRenderError:
            pass
        finally:
            self._close(stream)
        return None

    def render_with_lease(self, lease: Lease, record: CacheRecord | None) -> None:
        try:
            current = self._store.meta.get(self.key)  # someone may have just committed
        except StoreError:
            current = record
        fresh = current is not None and current.is_fresh(self.clock.now())
        if fresh and current is not None and self.serve(current, CacheState.HIT):
            self.release(lease)
            return
        stale = current if current is not None else record
        keeper = LeaseKeeper(
            self._store.meta,
            lease,
            self.cfg.lease_seconds,
            self.clock,
            self.log,
            poll=self.e.keeper_poll,
        ).start()
        committed = False
        try:
            committed = self.render_and_store(stale, keeper)
        finally:
            final = keeper.stop()
            self.trace.count("LeaseRefresh", keeper.refreshes)
            if not committed:
                self.release(final)

    def render_and_store(self, stale: CacheRecord | None, keeper: LeaseKeeper) -> bool:
        generated_at = self.clock.now()
        try:
            with self.trace.timed("render"):
                stream = self.render_fn(cache_view(self.request, self.cfg.keys))
        except Exception:
            self.log.exception("render failed before its first byte")
            self.trace.count("RenderError")
            if stale is not None and self.serve(stale, CacheState.STALE_ERROR, "render-error"):
                return False
            self.trace.detail = "render-error"
            self.out.page(500, CacheState.MISS, cache_status(fwd="miss", detail="render-error"))
            return False
        reason = policy.uncacheable_reason(stream.status, stream.headers, stream.cookies, self.cfg)
        entry = cache_status(fwd="stale" if stale else "miss", stored=reason is None)
        try:
            with self.trace.timed("render"):
                body = self.out.render(stream, CacheState.MISS, entry, keep=reason is None)
        except LateRenderError:
            return False
        finally:
            self._close(stream)
        if reason is not None:
            self.trace.detail = reason
            self.trace.count("Uncacheable")
        if body is None:
            return False
        return publish(
            self._store,
            self.key,
            keeper=keeper,
            stream=stream,
            body=body,
            generated_at=generated_at,
            revalidate=self.cfg.revalidate,
            trace=self.trace,
            bodies=self.e.bodies,
        )

    def _close(self, stream: RenderStream) -> None:
        try:
            stream.close()
        except Exception:
            self.log.warning("closing the render failed", exc_info=True)
