"""The waiting rules of the ISR decision core: a request with no copy to serve waits for the
lease holder. No I/O: clock readings arrive as arguments, like every event of the core.

A waiter polls the record every ``poll_interval`` and retries the lease every
:data:`LEASE_RETRY_SECONDS` (a holder may release without committing: an early failure, a lost
commit), or at once when the holder's lease has expired. It stops waiting:

- when its budget (``wait_timeout``, and the Lambda's remaining time) is spent;
- when the holder is **silent**: a live holder refreshes its lease every
  ``lease_refresh_seconds``, which moves the lease's expiry (seen on each retry). An expiry that
  has not moved for ``holder_silent_seconds`` belongs to a holder that died (``kill -9``, a
  timeout). If that lease still has longer than that to run, the waiter gives up at once
  instead of waiting it out; otherwise it waits for the expiry, takes the lease over and stores.

So the wait after a holder dies is bounded by the refresh interval, not by ``wait_timeout``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import Enum
from typing import TYPE_CHECKING

from lambda_isr.isr.config import IsrConfig
from lambda_isr.isr.events import (
    AcquireLease,
    Action,
    LeaseResult,
    Note,
    Phase,
    ReadRecord,
    RecordRead,
    Sleep,
    StoreFailed,
    Woke,
)
from lambda_isr.isr.states import CacheState
from lambda_isr.store.contract import Lease

if TYPE_CHECKING:
    from lambda_isr.isr.machine import IsrMachine

LEASE_RETRY_SECONDS = 0.5
"""How often a waiter retries the lease (a conditional write) besides polling the record."""


class WaitStep(Enum):
    """What a waiter does next."""

    SLEEP = "sleep"
    TRY_LEASE = "try-lease"
    TIMED_OUT = "timed-out"
    HOLDER_SILENT = "holder-silent"


@dataclass(frozen=True, slots=True)
class LeaseWait:
    """One waiter's view of the holder (monotonic deadlines, epoch lease times)."""

    end: float
    """Monotonic time the wait ends."""
    retry_every: float
    silent_after: float
    next_try: float
    held_until: float | None = None
    """The holder's lease expiry (epoch seconds) as last seen."""
    moved_at: float = 0.0
    """Monotonic time the seen expiry last moved (or the wait began)."""

    @classmethod
    def begin(
        cls, cfg: IsrConfig, *, mono: float, budget: float, held_until: float | None
    ) -> LeaseWait:
        every = max(LEASE_RETRY_SECONDS, cfg.poll_interval)
        return cls(
            end=mono + budget,
            retry_every=every,
            silent_after=cfg.holder_silent_seconds,
            next_try=mono + every,
            held_until=held_until,
            moved_at=mono,
        )

    def tried(self, mono: float) -> LeaseWait:
        """The lease is being retried now."""
        return replace(self, next_try=mono + self.retry_every)

    def observe(self, held_until: float | None, mono: float) -> LeaseWait:
        """The lease was still held, expiring at ``held_until``."""
        if held_until != self.held_until:
            return replace(self, held_until=held_until, moved_at=mono)
        return self

    def step(self, now: float, mono: float) -> WaitStep:
        if mono >= self.end:
            return WaitStep.TIMED_OUT
        if self.held_until is not None:
            silent = mono - self.moved_at > self.silent_after
            if silent and self.held_until - now > self.silent_after:
                return WaitStep.HOLDER_SILENT
            if now >= self.held_until:
                return WaitStep.TRY_LEASE
        if mono >= self.next_try:
            return WaitStep.TRY_LEASE
        return WaitStep.SLEEP

    def left(self, mono: float) -> float:
        return self.end - mono


# --- the WAIT_* rows of the machine's table (handlers of IsrMachine's events) --------------


def start_wait(m: IsrMachine) -> Action:
    budget = m.cfg.wait_timeout
    if m.remaining is not None:
        budget = min(budget, m.remaining - m.cfg.deadline_margin)
    m.wait = LeaseWait.begin(m.cfg, mono=m.mono, budget=budget, held_until=m.held_until)
    return wait_next(m)


def wait_next(m: IsrMachine) -> Action:
    assert m.wait is not None
    step = m.wait.step(m.now, m.mono)
    if step is WaitStep.TIMED_OUT:
        m.notes.append(Note.WAIT_TIMEOUT)
        return give_up(m, "wait-timeout")
    if step is WaitStep.HOLDER_SILENT:
        m.notes.append(Note.HOLDER_SILENT)
        return give_up(m, "holder-silent")
    if step is WaitStep.TRY_LEASE:
        # The holder may have released without committing (an early failure, a lost commit)
        # or died: retry the lease now and then, not only after its expiry.
        m.wait = m.wait.tried(m.mono)
        return m._to(Phase.WAIT_ACQUIRE, AcquireLease())
    return m._to(Phase.WAIT_SLEEP, Sleep(m.cfg.poll_interval, m.wait.left(m.mono)))


def give_up(m: IsrMachine, detail: str) -> Action:
    """The wait is over without a new generation: the stale copy, or an uncached render."""
    if m.record is not None:
        return m._serve(Phase.SERVE_TIMEOUT, m.record, CacheState.STALE, detail)
    return m._bypass("bypass", detail)


def woke(m: IsrMachine, e: Woke) -> Action:
    m.now, m.mono = e.now, e.mono
    return m._to(Phase.WAIT_READ, ReadRecord())


def polled(m: IsrMachine, e: RecordRead) -> Action:
    m.mono, m.now = e.mono, e.now
    current = m.current = e.record
    if current is not None and (m.record is None or current.generated_at > m.record.generated_at):
        return m._serve(Phase.WAIT_SERVE, current, CacheState.WAIT_HIT)
    return wait_next(m)


def wait_acquired(m: IsrMachine, e: LeaseResult) -> Action:
    m.now, m.mono = e.now, e.mono
    if isinstance(e.result, Lease):
        m.notes.append(Note.LEASE_TAKEOVER)
        if m.current is not None:
            m.record = m.current
        m.lease = e.result
        return m._to(Phase.RECHECK, ReadRecord())
    if e.result.passing(m.now):
        return m._pass()
    assert m.wait is not None
    m.wait = m.wait.observe(e.result.expires_at, e.mono)
    return wait_next(m)


def wait_failed(m: IsrMachine, e: StoreFailed) -> Action:
    m.notes.append(Note.WAIT_TIMEOUT)
    return give_up(m, "wait-timeout")


def wait_unreadable(m: IsrMachine) -> Action:
    m.record = m.current  # committed, but its body is unreadable
    return wait_next(m)
