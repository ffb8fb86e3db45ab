"""The waiting rules of the ISR decision core: a request with no copy to serve waits for the
lease holder. No I/O: clock readings arrive as arguments, like every event of the core.

A waiter reads the record on a :class:`PollSchedule`: first after ``poll_interval``, then at
intervals that grow with the wait (``poll_interval`` plus ``poll_ratio`` of the time waited so
far, at most :data:`LEASE_RETRY_SECONDS`). So it sees a commit within a bounded fraction of its
wait, and its reads grow with the log of the wait, not with the wait: many waiters on one page
do not keep the store (or a CPU they share with the holder) busy at a fixed rate each. It also
retries the lease every :data:`LEASE_RETRY_SECONDS` (a holder may release without committing:
an early failure, a lost commit), or at once when the holder's lease has expired; no sleep runs
past either. It stops waiting:

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
_ROUNDING = 1e-6
"""A deadline of the waiter's own this close to a clock reading counts as reached (a sleep that
ends exactly at it may read a hair short after float rounding)."""
_PAST_EXPIRY = 1e-3
"""A sleep until the holder's lease expiry ends this much after it: the store, not the waiter,
decides that the lease has expired, on its own reading of the clock."""


class WaitStep(Enum):
    """What a waiter does next."""

    SLEEP = "sleep"
    TRY_LEASE = "try-lease"
    TIMED_OUT = "timed-out"
    HOLDER_SILENT = "holder-silent"


@dataclass(frozen=True, slots=True)
class PollSchedule:
    """How long a waiter may sleep before its next read of the record: ``interval(waited)`` is
    ``first + ratio * waited`` (``waited``: the time since the wait began), at most ``longest``
    (the lease retry interval: a waiter also reads when it retries the lease). It never
    shrinks as the wait goes on.

    Each sleep is capped at the interval; the driver's jitter only shortens it, to half at
    most. A sleep cut short by a deadline (the next lease retry, the holder's lease expiry, the
    end of the wait) ends exactly at it. So, with ``d`` the time a read and a lease retry take:

    - **overshoot**: a commit made ``c`` seconds into the wait is seen by a read that starts at
      most ``interval(c + d) + d`` after it: a waiter answers within about ``1 + ratio`` times
      the holder's render, plus ``first`` and a read or two;
    - **reads**: a wait of ``t`` seconds makes at most ``ln(1 + ratio * t / first) /
      ln(1 + ratio / 2)`` reads while the interval grows (until ``(longest - first) / ratio``),
      then at most ``2 / longest`` a second, plus one per lease retry (a sleep cut short for
      it): the count grows with the log of the wait. Polling every ``first`` makes up to
      ``2 * t / first``.
    """

    first: float
    ratio: float
    longest: float

    @classmethod
    def of(cls, cfg: IsrConfig) -> PollSchedule:
        first = cfg.poll_interval
        return cls(first, cfg.poll_ratio, max(first, LEASE_RETRY_SECONDS))

    def interval(self, waited: float) -> float:
        return min(self.longest, self.first + self.ratio * max(0.0, waited))


@dataclass(frozen=True, slots=True)
class LeaseWait:
    """One waiter's view of the holder (monotonic deadlines, epoch lease times)."""

    end: float
    """Monotonic time the wait ends."""
    retry_every: float
    silent_after: float
    next_try: float
    began: float
    """Monotonic time the wait began."""
    poll: PollSchedule
    held_until: float | None = None
    """The holder's lease expiry (epoch seconds) as last seen."""
    moved_at: float = 0.0
    """Monotonic time the seen expiry last moved (or the wait began)."""
    tried_at: float = 0.0
    """Monotonic time of the last lease attempt (the wait begins right after one)."""

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
            tried_at=mono,
            began=mono,
            poll=PollSchedule.of(cfg),
        )

    def sleep(self, now: float, mono: float) -> Sleep:
        """The sleep before the next read: the schedule's interval, which the driver's jitter
        shortens by up to half; or, when a deadline comes first (the next lease retry, the
        holder's lease expiry, the end of the wait), exactly until it (asking for twice the gap,
        capped at it: the jitter, 0.5x-1.5x, cannot end it early)."""
        interval = self.poll.interval(mono - self.began)
        gap = min(self.end - mono, self.next_try - mono)
        if self.held_until is not None:
            expired = self.held_until - now + _PAST_EXPIRY
            gap = min(gap, max(expired, self.tried_at + self.poll.first - mono))
        if gap <= interval:
            gap = max(0.0, gap)
            return Sleep(2 * gap, gap)
        return Sleep(interval, interval)

    def tried(self, mono: float) -> LeaseWait:
        """The lease is being retried now."""
        return replace(self, next_try=mono + self.retry_every, tried_at=mono)

    def observe(self, held_until: float | None, mono: float) -> LeaseWait:
        """The lease was still held, expiring at ``held_until``."""
        if held_until != self.held_until:
            return replace(self, held_until=held_until, moved_at=mono)
        return self

    def step(self, now: float, mono: float) -> WaitStep:
        if mono + _ROUNDING >= self.end:
            return WaitStep.TIMED_OUT
        if self.held_until is not None:
            silent = mono - self.moved_at > self.silent_after
            if silent and self.held_until - now > self.silent_after:
                return WaitStep.HOLDER_SILENT
            # at its expiry; never again at once (a store that still says held is retried
            # no faster than the polls)
            if now >= self.held_until and mono + _ROUNDING >= self.tried_at + self.poll.first:
                return WaitStep.TRY_LEASE
        if mono + _ROUNDING >= self.next_try:
            return WaitStep.TRY_LEASE
        return WaitStep.SLEEP


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
    return m._to(Phase.WAIT_SLEEP, m.wait.sleep(m.now, m.mono))


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
