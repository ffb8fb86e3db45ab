"""The ISR decision core, event by event: no store, no clock, no threads.

One test per row of the README's "What each request does" table and per failure branch: each
feeds events and asserts the exact actions the core answers with.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from lambda_isr.isr.config import ContentionPolicy, IsrConfig
from lambda_isr.isr.events import (
    AcquireLease,
    AnswerPage,
    Begin,
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
    Sleep,
    StoreFailed,
    Woke,
)
from lambda_isr.isr.machine import IsrMachine
from lambda_isr.isr.states import CacheState
from lambda_isr.store.contract import CacheRecord, Lease, LeaseHeld

KEY = "default::h/p"
NOW = 10_000.0
LEASE = Lease(KEY, "tok", NOW + 15, NOW)
HELD = LeaseHeld(KEY, NOW + 15)


def rec(generated_at: float = NOW - 10, revalidate: int = 60) -> CacheRecord:
    return CacheRecord(KEY, "isr/x.html", generated_at, revalidate, size=3)


FRESH = rec()
STALE = rec(generated_at=NOW - 100)


def machine(**options: object) -> IsrMachine:
    return IsrMachine(IsrConfig(revalidate=60, **options))  # type: ignore[arg-type]


def begin(m: IsrMachine, method: str = "GET", remaining: float | None = None) -> object:
    return m.send(Begin(method, KEY, now=NOW, mono=0.0, remaining=remaining))


def read(record: CacheRecord | None, mono: float = 0.0) -> RecordRead:
    return RecordRead(record, NOW + mono, mono)


def won(mono: float = 0.0) -> LeaseResult:
    return LeaseResult(LEASE, NOW + mono, mono)


def held(mono: float = 0.0, until: float | None = NOW + 15) -> LeaseResult:
    return LeaseResult(LeaseHeld(KEY, until), NOW + mono, mono)


# --- rows of the README table -----------------------------------------------------------


def test_hit_fresh_copy_one_read() -> None:
    m = machine()
    assert begin(m) == ReadRecord(last_known=True)
    action = m.send(read(FRESH))
    assert isinstance(action, ServeRecord)
    assert (action.record, action.state) == (FRESH, CacheState.HIT)
    assert action.status_entry == "lambda-isr; hit; ttl=50"
    assert m.send(Served(True)) == Finish()
    assert m.phase is Phase.DONE


def test_miss_stale_lease_won_rechecks_then_renders_under_the_lease() -> None:
    m = machine()
    begin(m)
    assert m.send(read(STALE)) == AcquireLease()
    assert m.send(won()) == ReadRecord()
    action = m.send(read(STALE))
    assert action == Render(CacheState.MISS, "lambda-isr; fwd=stale", LEASE)
    assert m.send(Rendered(RenderOutcome.COMMITTED)) == Finish()


def test_miss_on_a_new_page_says_fwd_miss() -> None:
    m = machine()
    begin(m)
    assert m.send(read(None)) == AcquireLease()
    m.send(won())
    assert m.send(read(None)) == Render(CacheState.MISS, "lambda-isr; fwd=miss", LEASE)


def test_recheck_finds_a_fresh_commit_serves_it_and_releases() -> None:
    m = machine()
    begin(m)
    m.send(read(STALE))
    m.send(won())
    action = m.send(read(FRESH))
    assert isinstance(action, ServeRecord)
    assert action.state is CacheState.HIT
    assert m.send(Served(True)) == ReleaseLease(LEASE)
    assert m.send(Released()) == Finish()


def test_stale_another_holds_the_lease_serve_stale() -> None:
    m = machine()
    begin(m)
    m.send(read(STALE))
    action = m.send(held())
    assert isinstance(action, ServeRecord)
    assert action.state is CacheState.STALE
    assert action.status_entry == "lambda-isr; hit; ttl=-40"
    assert m.send(Served(True)) == Finish()
    assert m.notes == [Note.LEASE_CONTENTION]


def test_head_over_a_stale_copy_is_served_stale_never_rendered() -> None:
    m = machine()
    begin(m, "HEAD")
    action = m.send(read(STALE))
    assert isinstance(action, ServeRecord)
    assert action.state is CacheState.STALE


def test_head_without_a_copy_bypasses() -> None:
    m = machine()
    begin(m, "HEAD")
    assert m.send(read(None)) == Render(CacheState.BYPASS, "lambda-isr; fwd=bypass; detail=head")
    assert m.detail == "head"


def test_wait_hit_no_copy_polls_until_the_holder_commits() -> None:
    m = machine(poll_interval=0.05, poll_ratio=0.1)
    begin(m)
    m.send(read(None))
    assert m.send(held()) == Sleep(0.05, 0.05)  # the first interval, never longer
    assert m.send(Woke(NOW + 0.05, 0.05)) == ReadRecord()
    sleep = m.send(read(None, 0.05))
    assert isinstance(sleep, Sleep)
    assert sleep.seconds == sleep.cap
    assert abs(sleep.cap - (0.05 + 0.1 * 0.05)) < 1e-9  # growing with the wait
    m.send(Woke(NOW + 0.1, 0.1))
    action = m.send(read(FRESH, 0.1))
    assert isinstance(action, ServeRecord)
    assert action.state is CacheState.WAIT_HIT
    assert "collapsed" in action.status_entry
    assert m.send(Served(True)) == Finish()


def test_wait_with_contention_wait_policy_even_with_a_stale_copy() -> None:
    m = machine(contention=ContentionPolicy.WAIT)
    begin(m)
    m.send(read(STALE))
    assert isinstance(m.send(held()), Sleep)


def test_waiter_retries_the_lease_every_half_second_and_takes_over() -> None:
    m = machine(poll_interval=0.05)
    begin(m)
    m.send(read(None))
    m.send(held())
    m.send(Woke(NOW + 0.6, 0.6))
    assert m.send(read(None, 0.6)) == AcquireLease()  # 0.6 >= 0.5: retry the lease
    assert m.send(won(0.6)) == ReadRecord()  # a takeover re-checks first
    assert m.notes[-1] is Note.LEASE_TAKEOVER
    assert m.send(read(None, 0.6)) == Render(CacheState.MISS, "lambda-isr; fwd=miss", LEASE)


def test_waiter_retries_at_once_when_the_holders_lease_expired() -> None:
    m = machine(poll_interval=0.05)
    begin(m)
    m.send(read(None))
    m.send(held(until=NOW + 0.1))
    m.send(Woke(NOW + 0.2, 0.2))
    assert m.send(read(None, 0.2)) == AcquireLease()
    assert isinstance(m.send(held(0.2, until=NOW + 5)), Sleep)


def test_wait_timeout_serves_stale_or_bypasses() -> None:
    m = machine(wait_timeout=0.1, contention=ContentionPolicy.WAIT)
    begin(m)
    m.send(read(STALE))
    m.send(held())
    m.send(Woke(NOW + 0.2, 0.2))
    action = m.send(read(STALE, 0.2))  # nothing newer, and the wait is over
    assert isinstance(action, ServeRecord)
    assert (action.state, m.detail) == (CacheState.STALE, "wait-timeout")
    m2 = machine(wait_timeout=0.1)
    begin(m2)
    m2.send(read(None))
    m2.send(held())
    m2.send(Woke(NOW + 0.2, 0.2))
    bypass = m2.send(read(None, 0.2))
    assert bypass == Render(CacheState.BYPASS, "lambda-isr; fwd=bypass; detail=wait-timeout")
    assert Note.WAIT_TIMEOUT in m2.notes


def test_wait_is_bounded_by_the_lambdas_remaining_time() -> None:
    m = machine(wait_timeout=10, deadline_margin=1.0)
    begin(m, remaining=1.0)  # 1 s left, 1 s margin: no time to wait at all
    m.send(read(None))
    assert m.send(held()) == Render(
        CacheState.BYPASS, "lambda-isr; fwd=bypass; detail=wait-timeout"
    )


def test_stale_error_render_failed_before_its_first_byte() -> None:
    m = machine()
    begin(m)
    m.send(read(STALE))
    m.send(won())
    m.send(read(STALE))
    action = m.send(Rendered(RenderOutcome.EARLY_FAILURE))
    assert isinstance(action, ServeRecord)
    assert action.state is CacheState.STALE_ERROR
    assert action.status_entry == "lambda-isr; fwd=stale; detail=render-error"
    assert m.send(Served(False)) == AnswerPage(
        500, CacheState.MISS, "lambda-isr; fwd=miss; detail=render-error"
    )


def test_early_failure_without_a_copy_is_a_500() -> None:
    m = machine()
    begin(m)
    m.send(read(None))
    m.send(won())
    m.send(read(None))
    page = m.send(Rendered(RenderOutcome.EARLY_FAILURE))
    assert page == AnswerPage(500, CacheState.MISS, "lambda-isr; fwd=miss; detail=render-error")
    assert m.phase is Phase.DONE


@pytest.mark.parametrize("outcome", [RenderOutcome.LATE_FAILURE, RenderOutcome.NOT_STORED])
def test_late_failures_and_uncached_renders_just_finish(outcome: RenderOutcome) -> None:
    m = machine()
    begin(m)
    m.send(read(None))
    m.send(won())
    m.send(read(None))
    assert m.send(Rendered(outcome)) == Finish()


@pytest.mark.parametrize(
    ("begin_event", "expected"),
    [
        (Begin("POST", KEY), Render(CacheState.BYPASS, "lambda-isr; fwd=method")),
        (
            Begin("GET", None, "cookie"),
            Render(CacheState.BYPASS, "lambda-isr; fwd=bypass; detail=cookie"),
        ),
        (
            Begin("GET", None, problem=KeyProblem.TENANT_REQUIRED),
            AnswerPage(500, CacheState.BYPASS, "lambda-isr; fwd=bypass; detail=tenant-required"),
        ),
        (
            Begin("GET", None, problem=KeyProblem.BAD_REQUEST),
            AnswerPage(400, CacheState.BYPASS, "lambda-isr; fwd=bypass"),
        ),
    ],
)
def test_bypass_rows(begin_event: Begin, expected: object) -> None:
    assert machine().send(begin_event) == expected


def test_bypass_render_failing_early_is_a_500() -> None:
    m = machine()
    m.send(Begin("POST", KEY))
    assert m.send(Rendered(RenderOutcome.EARLY_FAILURE)) == AnswerPage(
        500, CacheState.BYPASS, "lambda-isr; fwd=method; detail=error"
    )


# --- store failures ---------------------------------------------------------------------


def test_store_down_serves_the_last_copy_this_process_served() -> None:
    m = machine()
    begin(m)
    action = m.send(StoreFailed(last_known=FRESH))
    assert isinstance(action, ServeRecord)
    assert action.state is CacheState.STALE
    assert m.detail == "store-unavailable"
    assert m.send(Served(True)) == Finish()


def test_store_down_without_a_copy_is_503_with_retry_after() -> None:
    m = machine()
    begin(m)
    page = m.send(StoreFailed())
    assert page == AnswerPage(
        503, CacheState.BYPASS, "lambda-isr; fwd=bypass; detail=store-unavailable",
        {"retry-after": "5"},
    )  # fmt: skip
    assert m.notes == [Note.STORE_UNAVAILABLE]


def test_lease_store_failure_serves_stale_or_bypasses() -> None:
    m = machine()
    begin(m)
    m.send(read(STALE))
    action = m.send(StoreFailed())
    assert isinstance(action, ServeRecord)
    assert action.state is CacheState.STALE
    assert m.send(Served(False)) == Render(
        CacheState.BYPASS, "lambda-isr; fwd=bypass; detail=store-unavailable"
    )


def test_recheck_failure_renders_with_the_known_copy() -> None:
    m = machine()
    begin(m)
    m.send(read(STALE))
    m.send(won())
    assert m.send(StoreFailed()) == Render(CacheState.MISS, "lambda-isr; fwd=stale", LEASE)


def test_store_failure_while_waiting_times_out_at_once() -> None:
    m = machine()
    begin(m)
    m.send(read(None))
    m.send(held())
    m.send(Woke(NOW, 0.05))
    assert m.send(StoreFailed()) == Render(
        CacheState.BYPASS, "lambda-isr; fwd=bypass; detail=wait-timeout"
    )


# --- unreadable bodies ------------------------------------------------------------------


def test_fresh_record_with_an_unreadable_body_is_a_miss() -> None:
    m = machine()
    begin(m)
    m.send(read(FRESH))
    assert m.send(Served(False)) == AcquireLease()
    m.send(won())
    assert m.send(read(None)) == Render(CacheState.MISS, "lambda-isr; fwd=miss", LEASE)


def test_committed_generation_with_an_unreadable_body_keeps_waiting() -> None:
    m = machine(poll_interval=0.05)
    begin(m)
    m.send(read(None))
    m.send(held())
    m.send(Woke(NOW, 0.05))
    assert isinstance(m.send(read(FRESH, 0.05)), ServeRecord)
    assert isinstance(m.send(Served(False)), Sleep)
    m.send(Woke(NOW, 0.1))
    assert isinstance(m.send(read(FRESH, 0.1)), Sleep)  # not newer than the unreadable one


# --- hit-for-pass (issue 16, item 1) ----------------------------------------------------

PASSING = LeaseHeld(KEY, NOW - 1, pass_until=NOW + 30)
PASS_RENDER = Render(CacheState.BYPASS, "lambda-isr; fwd=bypass; detail=pass")


def test_a_pass_marker_renders_uncached_at_once() -> None:
    m = machine()
    begin(m)
    assert m.send(read(None)) == AcquireLease()
    assert m.send(LeaseResult(PASSING, NOW, 0.0)) == PASS_RENDER
    assert (m.notes, m.detail) == ([Note.HIT_FOR_PASS], "pass")
    assert m.send(Rendered(RenderOutcome.NOT_STORED)) == Finish()


def test_a_pass_marker_beats_serving_stale_and_waiting() -> None:
    for contention in ContentionPolicy:
        m = machine(contention=contention)
        begin(m)
        m.send(read(STALE))
        assert m.send(LeaseResult(PASSING, NOW, 0.0)) == PASS_RENDER


def test_a_waiter_that_meets_the_marker_stops_waiting() -> None:
    m = machine(poll_interval=0.05)
    begin(m)
    m.send(read(None))
    assert isinstance(m.send(held()), Sleep)  # the holder's render has not shown it yet
    m.send(Woke(NOW + 0.6, 0.6))
    assert m.send(read(None, 0.6)) == AcquireLease()
    assert m.send(LeaseResult(PASSING, NOW + 0.6, 0.6)) == PASS_RENDER  # no Sleep after it


def test_a_marker_this_process_knows_skips_the_lease() -> None:
    m = machine()
    assert m.send(Begin("GET", KEY, now=NOW, pass_until=NOW + 30)) == ReadRecord(last_known=True)
    assert m.send(read(None)) == PASS_RENDER
    fresh = machine()
    fresh.send(Begin("GET", KEY, now=NOW, pass_until=NOW + 30))
    hit = fresh.send(read(FRESH))  # a fresh copy is still a hit
    assert isinstance(hit, ServeRecord)
    assert hit.state is CacheState.HIT
    ended = machine()
    ended.send(Begin("GET", KEY, now=NOW, pass_until=NOW))  # over: take the lease again
    assert ended.send(read(None)) == AcquireLease()


def test_an_ended_marker_is_an_ordinary_contention() -> None:
    m = machine()
    begin(m)
    m.send(read(None))
    old = LeaseHeld(KEY, NOW + 4, pass_until=NOW)
    assert isinstance(m.send(LeaseResult(old, NOW, 0.0)), Sleep)


def test_the_default_pass_window_is_min_revalidate_30() -> None:
    assert IsrConfig(revalidate=60).hit_for_pass_seconds == 30
    assert IsrConfig(revalidate=10).hit_for_pass_seconds == 10
    assert IsrConfig(revalidate=60, pass_seconds=0).hit_for_pass_seconds == 0


# --- a holder that died (issue 16, item 11) -----------------------------------------------


def _wait_until(m: IsrMachine, mono: float, expiry: float) -> object:
    """Poll and retry until ``mono``; the holder's lease expiry is ``expiry`` on each retry
    before it. At the expiry the store would grant the lease: that attempt is returned."""
    action: object = None
    t = 0.0
    while t < mono:
        t = round(t + 0.25, 2)
        action = m.send(Woke(NOW + t, t))
        assert action == ReadRecord()
        action = m.send(read(None, t))
        if action == AcquireLease() and NOW + t < expiry:
            action = m.send(held(t, until=expiry))
        if not isinstance(action, Sleep):
            return action
    return action


def test_a_silent_holder_with_a_long_lease_is_not_waited_out() -> None:
    m = machine(lease_seconds=15, wait_timeout=10)
    begin(m)
    m.send(read(None))
    m.send(held(until=NOW + 15))  # the holder died: its expiry never moves again
    action = _wait_until(m, 10.0, NOW + 15)
    assert action == Render(CacheState.BYPASS, "lambda-isr; fwd=bypass; detail=holder-silent")
    assert Note.HOLDER_SILENT in m.notes
    assert m.now - NOW <= m.cfg.holder_silent_seconds + 0.5  # ~3 s, not wait_timeout (10 s)


def test_a_silent_holder_with_a_short_lease_is_taken_over_at_its_expiry() -> None:
    m = machine(lease_seconds=4)
    begin(m)
    m.send(read(None))
    m.send(held(until=NOW + 4))
    action = _wait_until(m, 10.0, NOW + 4)
    assert action == AcquireLease()  # at the expiry
    assert 4 <= m.now - NOW <= 4.5
    assert m.send(won(m.mono)) == ReadRecord()
    assert m.send(read(None, m.mono)) == Render(CacheState.MISS, "lambda-isr; fwd=miss", LEASE)


def test_a_live_holder_is_waited_for() -> None:
    m = machine(lease_seconds=15, wait_timeout=10, poll_interval=0.25)
    begin(m)
    m.send(read(None))
    m.send(held(until=NOW + 15))
    t, action = 0.0, None
    while t < 9.5:  # the holder refreshes every second: its expiry keeps moving
        t = round(t + 0.25, 2)
        m.send(Woke(NOW + t, t))
        action = m.send(read(None, t))
        if action == AcquireLease():
            action = m.send(held(t, until=NOW + 15 + int(t)))
        assert isinstance(action, Sleep), (t, action)


def test_the_lease_refresh_interval_and_silence() -> None:
    assert IsrConfig(revalidate=60).lease_seconds == 4
    assert IsrConfig(revalidate=60).lease_refresh_seconds == 1
    assert IsrConfig(revalidate=60, lease_seconds=2).lease_refresh_seconds == 0.5
    assert IsrConfig(revalidate=60).holder_silent_seconds == 3


# --- clocks (issue 16, item 10) -----------------------------------------------------------


def test_a_record_from_the_future_is_stale() -> None:
    m = machine()
    begin(m)
    assert m.send(read(rec(generated_at=NOW + 300))) == AcquireLease()


def test_freshness_never_exceeds_revalidate_on_the_readers_clock() -> None:
    m = machine()
    begin(m)
    action = m.send(read(rec(generated_at=NOW + 3)))  # within the 5 s tolerance
    assert isinstance(action, ServeRecord)
    assert action.state is CacheState.HIT
    assert action.status_entry == "lambda-isr; hit; ttl=60"  # not 63


# --- the protocol itself ----------------------------------------------------------------


def test_an_unexpected_event_raises_and_moves_to_error() -> None:
    m = machine()
    with pytest.raises(IsrProtocolError, match="Served is not expected in start"):
        m.send(Served(True))
    assert m.phase is Phase.ERROR
    with pytest.raises(IsrProtocolError):
        m.send(Begin("GET", KEY))


def test_nothing_is_accepted_after_done() -> None:
    m = machine()
    begin(m)
    m.send(read(FRESH))
    m.send(Served(True))
    with pytest.raises(IsrProtocolError):
        m.send(read(FRESH))


def test_the_core_imports_no_io() -> None:
    code = (
        "import sys, lambda_isr.isr.machine;"
        "bad = [m for m in sys.modules if m.startswith(('boto', 'lambda_isr.store.dynamodb',"
        " 'lambda_isr.store.sqlite', 'lambda_isr.runtime', 'lambda_isr.http', 'socket',"
        " 'threading', 'lambda_isr.isr.pipeline', 'lambda_isr.isr.driver',"
        " 'lambda_isr.isr.cycle'))];"
        "print(bad); assert not bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
