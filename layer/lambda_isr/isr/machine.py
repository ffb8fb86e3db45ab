"""The ISR decision core: one request's blocking-ISR rules, with no I/O inside.

Events in, actions out, in the style of h11: :meth:`IsrMachine.send` takes an event
(:mod:`lambda_isr.isr.events`) and returns the next action; the driver performs it against the
store and the reply and sends back what happened. No store, clock, socket or writer is in here:
clock readings arrive inside events. An event the current phase does not expect raises
:class:`IsrProtocolError` and moves the machine to ``ERROR``.

The rules, as a table (phase, event) -> handler, read top to bottom as a request goes::

    START    Begin       unkeyable -> AnswerPage 400/500 | bypass -> Render(no lease)
                         | keyed -> ReadRecord(last_known)
    READ     RecordRead  fresh -> ServeRecord HIT | HEAD -> ServeRecord STALE or bypass
                         | stale/missing -> AcquireLease (bypass while a pass is known)
    READ     StoreFailed last known copy -> ServeRecord STALE | AnswerPage 503
    ACQUIRE  LeaseResult won -> ReadRecord (re-check) | hit-for-pass -> Render(no lease)
                         | held + copy + SERVE_STALE -> ServeRecord STALE | held -> wait
    RECHECK  RecordRead  fresh -> ServeRecord HIT, ReleaseLease | else Render(lease) MISS
    RECHECK  RecordRead  stale + AFTER_RESPONSE -> ServeRecord STALE, then Render(detached)
                         (the rules: :mod:`lambda_isr.isr.after`)
    RENDER   Rendered    early failure -> ServeRecord STALE_ERROR or AnswerPage 500 | Finish
    WAIT_*   Sleep -> Woke -> ReadRecord -> newer generation -> ServeRecord WAIT_HIT
                         | lease expired or every LEASE_RETRY_SECONDS -> AcquireLease
                         | hit-for-pass -> Render(no lease) | time out or holder silent
                         -> ServeRecord STALE | bypass (the rules: :mod:`lambda_isr.isr.wait`)
    SERVE_*  Served      ok -> Finish | body unreadable -> the branch's fallback
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lambda_isr.isr import after, wait
from lambda_isr.isr.config import ContentionPolicy, IsrConfig
from lambda_isr.isr.events import (
    AcquireLease,
    Action,
    AnswerPage,
    Begin,
    Event,
    Finish,
    IsrProtocolError,
    KeyProblem,
    LeaseResult,
    Note,
    Phase,
    ReadRecord,
    RecordRead,
    Released,
    ReleaseLease,
    Render,
    Rendered,
    RenderOutcome,
    Served,
    ServeRecord,
    StoreFailed,
    Woke,
)
from lambda_isr.isr.policy import cache_status
from lambda_isr.isr.states import CacheState
from lambda_isr.isr.wait import LEASE_RETRY_SECONDS, LeaseWait
from lambda_isr.store.contract import AcquireResult, CacheRecord, Lease

__all__ = ["LEASE_RETRY_SECONDS", "RETRY_AFTER_SECONDS", "IsrMachine"]

RETRY_AFTER_SECONDS = 5


class IsrMachine:
    """One request's decisions (see module docstring). ``notes`` and ``detail`` are read by
    the driver for metrics and the summary line."""

    def __init__(self, config: IsrConfig) -> None:
        self.cfg = config
        self.phase = Phase.START
        self.notes: list[Note] = []
        self.detail: str | None = None
        self.head = False
        self.record: CacheRecord | None = None  # the copy known before rendering (stale)
        self.current: CacheRecord | None = None  # the latest read (re-check, poll)
        self.lease: Lease | None = None
        self.bypass_fwd = "bypass"
        self.mono = 0.0
        self.now = 0.0
        self.wait: LeaseWait | None = None
        self.held_until: float | None = None
        self.remaining: float | None = None
        self.pass_until: float | None = None
        self.after_response = False
        self.begun = 0.0

    def send(self, event: Event) -> Action:
        handler = _TABLE.get((self.phase, type(event)))
        if handler is None:
            failed, self.phase = self.phase, Phase.ERROR
            raise IsrProtocolError(f"{type(event).__name__} is not expected in {failed.value}")
        action = handler(self, event)
        if isinstance(action, AnswerPage | Finish):
            self.phase = Phase.DONE
        return action

    # --- a stored copy was served, or its body could not be read --------------------------

    def _served(self, e: Served) -> Action:
        if not e.ok:
            return _ON_UNREADABLE[self.phase](self)
        if self.phase is Phase.SERVE_RECHECKED:
            assert self.lease is not None
            return self._to(Phase.RELEASE, ReleaseLease(self.lease))
        return Finish()

    def _hit_unreadable(self) -> Action:
        if self.head:
            return self._bypass("bypass", "head")
        self.record = None  # a pointer to a missing object: a miss
        return self._to(Phase.ACQUIRE, AcquireLease())

    def _recheck_unreadable(self) -> Action:
        assert self.lease is not None
        self.record = self.current
        return self._render(self.lease)

    # --- helpers --------------------------------------------------------------------------

    def _to(self, phase: Phase, action: Action) -> Action:
        self.phase = phase
        return action

    def _serve(
        self, phase: Phase, record: CacheRecord, state: CacheState, detail: str | None = None
    ) -> Action:
        now = self.now
        if state is CacheState.HIT:
            entry = cache_status(hit=True, ttl=record.remaining(now))
        elif state is CacheState.WAIT_HIT:
            entry = cache_status(fwd="miss", collapsed=True, ttl=record.remaining(now))
        elif state is CacheState.STALE_ERROR:
            entry = cache_status(fwd="stale", detail=detail or "render-error")
        else:
            ttl = -(now - record.fresh_until_for(now))
            entry = cache_status(hit=True, ttl=ttl, detail=detail)
        if detail:
            self.detail = detail
        self.current = record
        return self._to(phase, ServeRecord(record, state, entry))

    def _bypass(self, fwd: str, detail: str | None) -> Action:
        self.detail, self.bypass_fwd = detail, fwd
        return self._to(
            Phase.BYPASS, Render(CacheState.BYPASS, cache_status(fwd=fwd, detail=detail))
        )

    def _unavailable(self) -> Action:
        self.detail = "store-unavailable"
        entry = cache_status(fwd="bypass", detail="store-unavailable")
        retry = {"retry-after": str(RETRY_AFTER_SECONDS)}
        return AnswerPage(503, CacheState.BYPASS, entry, retry)

    def _passing(self, result: AcquireResult) -> bool:
        """A hit-for-pass marker: a render showed this page cannot be stored."""
        return not isinstance(result, Lease) and result.passing(self.now)

    def _pass(self) -> Action:
        """Render uncached, in parallel: nobody waits on a lease that cannot make a copy."""
        self.notes.append(Note.HIT_FOR_PASS)
        return self._bypass("bypass", "pass")

    def _render(self, lease: Lease) -> Action:
        self.lease = lease
        fwd = "stale" if self.record is not None else "miss"
        return self._to(Phase.RENDER, Render(CacheState.MISS, cache_status(fwd=fwd), lease))

    # --- START / READ ---------------------------------------------------------------------

    def _begin(self, e: Begin) -> Action:
        self.head, self.remaining = e.method == "HEAD", e.remaining
        self.now, self.mono, self.pass_until = e.now, e.mono, e.pass_until
        self.begun, self.after_response = e.mono, e.after_response
        if e.problem is KeyProblem.TENANT_REQUIRED:
            self.notes.append(Note.TENANT_REJECTED)
            entry = cache_status(fwd="bypass", detail="tenant-required")
            return AnswerPage(500, CacheState.BYPASS, entry)
        if e.problem is KeyProblem.BAD_REQUEST:
            return AnswerPage(400, CacheState.BYPASS, cache_status(fwd="bypass"))
        if e.method not in ("GET", "HEAD"):
            return self._bypass("method", None)
        if e.key is None:
            return self._bypass("bypass", e.bypass_reason)
        return self._to(Phase.READ, ReadRecord(last_known=True))

    def _read(self, e: RecordRead) -> Action:
        self.now, self.mono = e.now, e.mono
        record = e.record
        if record is not None and record.is_fresh(e.now):
            return self._serve(Phase.SERVE_HIT, record, CacheState.HIT)
        if self.head:
            # HEAD never renders into the cache: a face may answer HEAD with an empty body.
            if record is not None:
                return self._serve(Phase.SERVE_HEAD, record, CacheState.STALE)
            return self._bypass("bypass", "head")
        self.record = record
        if self.pass_until is not None and self.pass_until > e.now:
            return self._pass()
        return self._to(Phase.ACQUIRE, AcquireLease())

    def _read_failed(self, e: StoreFailed) -> Action:
        self.notes.append(Note.STORE_UNAVAILABLE)
        if e.last_known is not None:
            # The store is down: its freshness cannot be known, so it goes out as stale.
            last = e.last_known
            return self._serve(Phase.SERVE_LAST, last, CacheState.STALE, "store-unavailable")
        return self._unavailable()

    # --- ACQUIRE / RECHECK / RENDER -------------------------------------------------------

    def _acquired(self, e: LeaseResult) -> Action:
        self.now, self.mono = e.now, e.mono
        if isinstance(e.result, Lease):
            self.lease = e.result
            later = after.stale_now(self)  # serve the stale copy now; re-check after the answer
            return later if later is not None else self._to(Phase.RECHECK, ReadRecord())
        if self._passing(e.result):
            return self._pass()
        self.notes.append(Note.LEASE_CONTENTION)
        self.held_until = e.result.expires_at
        if self.record is not None and self.cfg.contention is ContentionPolicy.SERVE_STALE:
            return self._serve(Phase.SERVE_CONTENDED, self.record, CacheState.STALE)
        return wait.start_wait(self)

    def _acquire_failed(self, e: StoreFailed) -> Action:
        self.notes.append(Note.STORE_UNAVAILABLE)
        if self.record is not None:
            record = self.record
            return self._serve(
                Phase.SERVE_STORE_DOWN, record, CacheState.STALE, "store-unavailable"
            )
        return self._bypass("bypass", "store-unavailable")

    def _rechecked(self, e: RecordRead | StoreFailed) -> Action:
        assert self.lease is not None
        current = e.record if isinstance(e, RecordRead) else self.record
        if isinstance(e, RecordRead):
            self.now, self.mono = e.now, e.mono
        if current is not None and isinstance(e, RecordRead) and current.is_fresh(e.now):
            return self._serve(Phase.SERVE_RECHECKED, current, CacheState.HIT)
        if current is not None:
            self.record = current
        return self._render(self.lease)

    def _released(self, e: Released) -> Action:
        return Finish()

    def _rendered(self, e: Rendered) -> Action:
        if e.outcome is not RenderOutcome.EARLY_FAILURE:
            return Finish()
        if self.record is not None:
            record = self.record
            return self._serve(
                Phase.SERVE_STALE_ERROR, record, CacheState.STALE_ERROR, "render-error"
            )
        return self._render_error_page()

    def _render_error_page(self) -> Action:
        self.detail = "render-error"
        return AnswerPage(500, CacheState.MISS, cache_status(fwd="miss", detail="render-error"))

    def _bypass_rendered(self, e: Rendered) -> Action:
        if e.outcome is RenderOutcome.EARLY_FAILURE:
            entry = cache_status(fwd=self.bypass_fwd, detail="error")
            return AnswerPage(500, CacheState.BYPASS, entry)
        return Finish()


_Handler = Callable[[IsrMachine, Any], Action]
_TABLE: dict[tuple[Phase, type[Event]], _Handler] = {
    (Phase.START, Begin): IsrMachine._begin,
    (Phase.READ, RecordRead): IsrMachine._read,
    (Phase.READ, StoreFailed): IsrMachine._read_failed,
    (Phase.SERVE_HIT, Served): IsrMachine._served,
    (Phase.SERVE_HEAD, Served): IsrMachine._served,
    (Phase.SERVE_LAST, Served): IsrMachine._served,
    (Phase.ACQUIRE, LeaseResult): IsrMachine._acquired,
    (Phase.ACQUIRE, StoreFailed): IsrMachine._acquire_failed,
    (Phase.SERVE_STORE_DOWN, Served): IsrMachine._served,
    (Phase.SERVE_CONTENDED, Served): IsrMachine._served,
    (Phase.RECHECK, RecordRead): IsrMachine._rechecked,
    (Phase.RECHECK, StoreFailed): IsrMachine._rechecked,
    (Phase.SERVE_RECHECKED, Served): IsrMachine._served,
    (Phase.RELEASE, Released): IsrMachine._released,
    (Phase.RENDER, Rendered): IsrMachine._rendered,
    (Phase.SERVE_STALE_ERROR, Served): IsrMachine._served,
    (Phase.BYPASS, Rendered): IsrMachine._bypass_rendered,
    (Phase.WAIT_SLEEP, Woke): wait.woke,
    (Phase.WAIT_READ, RecordRead): wait.polled,
    (Phase.WAIT_READ, StoreFailed): wait.wait_failed,
    (Phase.WAIT_SERVE, Served): IsrMachine._served,
    (Phase.WAIT_ACQUIRE, LeaseResult): wait.wait_acquired,
    (Phase.WAIT_ACQUIRE, StoreFailed): wait.wait_failed,
    (Phase.SERVE_TIMEOUT, Served): IsrMachine._served,
    (Phase.SERVE_AFTER, Served): after.served,
    (Phase.RECHECK_AFTER, RecordRead): after.rechecked,
    (Phase.RECHECK_AFTER, StoreFailed): after.rechecked,
    (Phase.RENDER_AFTER, Rendered): after.rendered,
}

_ON_UNREADABLE: dict[Phase, Callable[[IsrMachine], Action]] = {
    Phase.SERVE_HIT: IsrMachine._hit_unreadable,
    Phase.SERVE_HEAD: lambda m: m._bypass("bypass", "head"),
    Phase.SERVE_LAST: IsrMachine._unavailable,
    Phase.SERVE_STORE_DOWN: lambda m: m._bypass("bypass", "store-unavailable"),
    Phase.SERVE_CONTENDED: wait.start_wait,
    Phase.SERVE_RECHECKED: IsrMachine._recheck_unreadable,
    Phase.SERVE_STALE_ERROR: IsrMachine._render_error_page,
    Phase.WAIT_SERVE: wait.wait_unreadable,
    Phase.SERVE_TIMEOUT: lambda m: m._bypass("bypass", "wait-timeout"),
}
"""What each serving phase does when the stored body cannot be read (nothing was sent)."""
