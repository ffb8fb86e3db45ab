"""The waiters' poll schedule (:class:`lambda_isr.isr.wait.PollSchedule`), through the decision
core: a simulated driver performs the machine's actions on a simulated clock (sleeps with the
driver's jitter rule, reads and lease retries taking a fixed time), so the schedule's
properties are asserted exactly, with no real clock and no store.

- overshoot: a commit is seen by a read starting at most ``interval(c + d) + d`` after it;
- reads: their number grows with the log of the wait, not with the wait;
- no sleep runs past the next lease retry, the holder's lease expiry or the end of the wait.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from lambda_isr.errors import ConfigError
from lambda_isr.isr.config import IsrConfig
from lambda_isr.isr.events import (
    AcquireLease,
    Action,
    Begin,
    LeaseResult,
    ReadRecord,
    RecordRead,
    ServeRecord,
    Sleep,
    Woke,
)
from lambda_isr.isr.machine import IsrMachine
from lambda_isr.isr.states import CacheState
from lambda_isr.isr.wait import LEASE_RETRY_SECONDS, PollSchedule
from lambda_isr.store.contract import CacheRecord, LeaseHeld

KEY = "default::h/p"
NOW = 50_000.0
COMMITTED = CacheRecord(KEY, "isr/new.html", NOW + 0.5, 60, size=3)

Jitter = Callable[[], float]


def shortest() -> float:
    """The driver's jitter at its lowest: every sleep lasts half what was asked."""
    return 0.0


def longest() -> float:
    """The driver's jitter at its highest (capped by the machine)."""
    return 0.999_999


@dataclass
class Run:
    """What a simulated waiter did (monotonic seconds, 0 at the request's start)."""

    began: float = 0.0
    """When the wait began (after the first read and the lost lease attempt)."""
    reads: list[float] = field(default_factory=list)
    """Start of each read while waiting."""
    tries: list[float] = field(default_factory=list)
    sleeps: list[tuple[float, Sleep]] = field(default_factory=list)
    served: float | None = None
    """Start of the read that saw the commit."""
    last: Action | None = None


def simulate(
    cfg: IsrConfig,
    *,
    commit_at: float | None,
    jitter: Jitter,
    call: float = 0.0,
    horizon: float = 60.0,
) -> Run:
    """One waiter on a brand-new page whose holder lives (its lease expiry moves every second)
    and commits at ``commit_at``. Each store call takes ``call`` seconds; a read sees the
    commit when it starts at or after it. Sleeps follow the driver's rule:
    ``min(cap, seconds * (0.5 + jitter()))``."""
    m = IsrMachine(cfg)
    run = Run()
    t = 0.0
    action = m.send(Begin("GET", KEY, now=NOW, mono=t))
    waiting = False
    while t < horizon:
        if isinstance(action, ReadRecord):
            start, t = t, t + call
            seen = commit_at is not None and start >= commit_at
            if waiting:
                run.reads.append(start)
                if seen:
                    run.served = start
            action = m.send(RecordRead(COMMITTED if seen else None, NOW + t, t))
        elif isinstance(action, AcquireLease):
            if waiting:
                run.tries.append(t)
            t += call
            expiry = NOW + math.floor(t) + 4  # refreshed every second: it keeps moving
            action = m.send(LeaseResult(LeaseHeld(KEY, expiry), NOW + t, t))
        elif isinstance(action, Sleep):
            if not waiting:
                waiting, run.began = True, t
            run.sleeps.append((t, action))
            t += min(action.cap, action.seconds * (0.5 + jitter()))
            action = m.send(Woke(NOW + t, t))
        else:
            break
    run.last = action
    return run


def config(**options: float) -> IsrConfig:
    return IsrConfig(revalidate=60, wait_timeout=120.0, lease_seconds=4.0, **options)  # type: ignore[arg-type]


# --- the interval -------------------------------------------------------------------------


def test_the_interval_starts_at_poll_interval_and_grows_with_the_wait() -> None:
    s = PollSchedule.of(config(poll_interval=0.05, poll_ratio=0.1))
    assert s.interval(0.0) == 0.05
    assert s.interval(1.0) == pytest.approx(0.15)
    assert s.interval(2.0) == pytest.approx(0.25)
    assert s.interval(100.0) == s.longest == LEASE_RETRY_SECONDS  # reads at least every retry
    steps = [s.interval(w / 10) for w in range(200)]
    assert steps == sorted(steps)  # never shrinks


def test_a_zero_ratio_polls_every_poll_interval() -> None:
    s = PollSchedule.of(config(poll_interval=0.05, poll_ratio=0.0))
    assert {s.interval(w) for w in (0.0, 1.0, 50.0)} == {0.05}


def test_a_long_poll_interval_is_the_longest_too() -> None:
    s = PollSchedule.of(config(poll_interval=2.0))
    assert s.interval(0.0) == s.interval(30.0) == 2.0


@pytest.mark.parametrize("bad", [-0.1, float("nan"), "0.1", True])
def test_poll_ratio_is_validated(bad: object) -> None:
    with pytest.raises(ConfigError, match="poll_ratio"):
        IsrConfig(revalidate=60, poll_ratio=bad)  # type: ignore[arg-type]


# --- overshoot: how late a waiter sees the commit -----------------------------------------


@pytest.mark.parametrize("commit_at", [0.07, 0.3, 1.0, 1.04, 2.5, 4.9, 7.3, 15.0])
@pytest.mark.parametrize("call", [0.0, 0.004, 0.03])
@pytest.mark.parametrize("jitter", [shortest, longest, random.Random(7).random])
def test_a_commit_is_seen_within_the_interval_of_its_time(
    commit_at: float, call: float, jitter: Jitter
) -> None:
    cfg = config(poll_interval=0.05, poll_ratio=0.1)
    run = simulate(cfg, commit_at=commit_at, jitter=jitter, call=call)
    assert isinstance(run.last, ServeRecord)
    assert run.last.state is CacheState.WAIT_HIT
    assert run.served is not None
    d = 2 * call  # a read, and a lease retry after it
    bound = PollSchedule.of(cfg).interval(commit_at - run.began + d) + d
    assert run.served - commit_at <= bound + 1e-9
    if commit_at >= 1.0:  # about 1.1x the holder's time, plus the first interval
        assert run.served <= 1.1 * commit_at + cfg.poll_interval + 2 * d


def test_every_sleep_is_capped_at_the_interval_of_its_time() -> None:
    cfg = config(poll_interval=0.05, poll_ratio=0.1)
    run = simulate(cfg, commit_at=None, jitter=longest, horizon=8.0)
    schedule = PollSchedule.of(cfg)
    assert run.sleeps
    for t, sleep in run.sleeps:
        assert sleep.cap <= schedule.interval(t - run.began) + 1e-9
        # a poll the jitter may shorten, or an exact wake at a lease retry
        assert sleep.seconds in (sleep.cap, 2 * sleep.cap)
        if sleep.seconds != sleep.cap and t + sleep.cap < 8.0:
            assert any(abs(t + sleep.cap - tried) < 1e-6 for tried in run.tries)


# --- reads: bounded by the log of the wait ------------------------------------------------


def read_bound(s: PollSchedule, t: float, tries: int) -> float:
    """Most reads in ``t`` seconds when every sleep is half its interval (module docstring)."""
    growing = (s.longest - s.first) / s.ratio
    reads = math.log(1 + s.ratio * min(t, growing) / s.first) / math.log(1 + s.ratio / 2)
    reads += 2 * max(0.0, t - growing) / s.longest
    return reads + tries + 2


@pytest.mark.parametrize("horizon", [0.5, 1.1, 3.0, 10.0, 30.0])
def test_reads_grow_with_the_log_of_the_wait(horizon: float) -> None:
    cfg = config(poll_interval=0.05, poll_ratio=0.1)
    run = simulate(cfg, commit_at=None, jitter=shortest, horizon=horizon)
    waited = horizon - run.began
    assert len(run.reads) <= read_bound(PollSchedule.of(cfg), waited, len(run.tries))
    fixed = simulate(config(poll_ratio=0.0), commit_at=None, jitter=shortest, horizon=horizon)
    assert len(fixed.reads) >= 1.8 * waited / 0.05  # what polling every 50 ms costs
    if horizon >= 3.0:
        assert len(run.reads) < len(fixed.reads) / 3
    if horizon >= 10.0:
        assert len(run.reads) < len(fixed.reads) / 7


def test_reads_per_second_are_bounded_at_every_point_of_the_wait() -> None:
    cfg = config(poll_interval=0.05, poll_ratio=0.1)
    run = simulate(cfg, commit_at=None, jitter=shortest, horizon=30.0)
    for second in range(29):
        reads = sum(1 for r in run.reads if second <= r < second + 1)
        tries = sum(1 for r in run.tries if second <= r < second + 1)
        assert reads <= 2 / cfg.poll_interval + tries
        if second >= 10:  # the interval has reached the lease retry's
            assert reads <= 2 / LEASE_RETRY_SECONDS + tries + 1
    assert len(run.tries) <= 30 / LEASE_RETRY_SECONDS + 1


# --- the sleeps never hide a lease retry, the holder's expiry or the end of the wait -----


def test_lease_retries_stay_on_time() -> None:
    cfg = config(poll_interval=0.05, poll_ratio=0.1)
    run = simulate(cfg, commit_at=None, jitter=longest, horizon=20.0)
    gaps = [b - a for a, b in zip(run.tries, run.tries[1:], strict=False)]
    assert gaps
    assert max(gaps) <= LEASE_RETRY_SECONDS + 1e-9
    assert run.tries[0] - run.began <= LEASE_RETRY_SECONDS + 1e-9


def test_no_sleep_runs_past_the_holders_lease_expiry() -> None:
    m = IsrMachine(config(poll_interval=0.05, poll_ratio=0.1))
    m.send(Begin("GET", KEY, now=NOW, mono=0.0))
    m.send(RecordRead(None, NOW, 0.0))
    m.send(LeaseResult(LeaseHeld(KEY, NOW + 0.3), NOW, 0.0))
    m.send(Woke(NOW + 0.28, 0.28))
    sleep = m.send(RecordRead(None, NOW + 0.28, 0.28))
    assert isinstance(sleep, Sleep)
    assert sleep.cap == pytest.approx(0.021)  # just after the expiry: the store decides
    assert sleep.seconds == 2 * sleep.cap  # exactly: the jitter cannot wake it earlier
    m.send(Woke(NOW + 0.28 + sleep.cap, 0.28 + sleep.cap))
    assert m.send(RecordRead(None, NOW + 0.301, 0.301)) == AcquireLease()  # take it over


def test_a_lease_still_held_past_its_expiry_is_not_retried_in_a_loop() -> None:
    """A store that still says "held" after the expiry (its clock, its rounding) gets the next
    attempt a poll later, not at once: no burst of conditional writes."""
    m = IsrMachine(config(poll_interval=0.05, poll_ratio=0.1))
    m.send(Begin("GET", KEY, now=NOW, mono=0.0))
    m.send(RecordRead(None, NOW, 0.0))
    m.send(LeaseResult(LeaseHeld(KEY, NOW + 1), NOW, 0.0))
    m.send(Woke(NOW + 1.2, 1.2))
    assert m.send(RecordRead(None, NOW + 1.2, 1.2)) == AcquireLease()  # expired: at once
    sleep = m.send(LeaseResult(LeaseHeld(KEY, NOW + 1), NOW + 1.2, 1.2))  # "held" all the same
    assert isinstance(sleep, Sleep)
    assert sleep.cap == pytest.approx(0.05)  # the next attempt a poll interval later
    m.send(Woke(NOW + 1.25, 1.25))
    assert m.send(RecordRead(None, NOW + 1.25, 1.25)) == AcquireLease()


def test_no_sleep_runs_past_the_end_of_the_wait() -> None:
    m = IsrMachine(IsrConfig(revalidate=60, wait_timeout=0.3, poll_interval=0.2))
    m.send(Begin("GET", KEY, now=NOW, mono=0.0))
    m.send(RecordRead(None, NOW, 0.0))
    assert m.send(LeaseResult(LeaseHeld(KEY, NOW + 4), NOW, 0.0)) == Sleep(0.2, 0.2)
    m.send(Woke(NOW + 0.2, 0.2))
    sleep = m.send(RecordRead(None, NOW + 0.2, 0.2))
    assert isinstance(sleep, Sleep)
    assert sleep.cap == pytest.approx(0.1)


def test_a_silent_holder_is_still_detected_with_growing_intervals() -> None:
    """The schedule leaves the holder-silent rule as it was: a lease that stops moving is
    given up on after ``holder_silent_seconds``, not waited out."""
    cfg = IsrConfig(revalidate=60, wait_timeout=30.0, lease_seconds=15.0, poll_ratio=0.1)
    m = IsrMachine(cfg)
    t = 0.0
    action = m.send(Begin("GET", KEY, now=NOW, mono=t))
    while t < 30.0:
        if isinstance(action, ReadRecord):
            action = m.send(RecordRead(None, NOW + t, t))
        elif isinstance(action, AcquireLease):
            action = m.send(LeaseResult(LeaseHeld(KEY, NOW + 15), NOW + t, t))  # never moves
        elif isinstance(action, Sleep):
            t += action.cap
            action = m.send(Woke(NOW + t, t))
        else:
            break
    assert m.detail == "holder-silent"
    assert t <= cfg.holder_silent_seconds + LEASE_RETRY_SECONDS + 1e-9


def test_poll_ratio_is_a_page_option() -> None:
    from lambda_isr.face import PAGE_OPTIONS, isr_config  # noqa: PLC0415

    assert "poll_ratio" in PAGE_OPTIONS  # @isr_face and FaceApp.face accept it
    assert isr_config(revalidate=60, poll_ratio=0.25).poll_ratio == 0.25
    assert isr_config(revalidate=60).poll_ratio == 0.1
