"""The after-response rules of the decision core (:mod:`lambda_isr.isr.after`), event by event."""

from __future__ import annotations

import pytest

from lambda_isr.isr.config import IsrConfig, Regeneration
from lambda_isr.isr.events import (
    AcquireLease,
    Begin,
    Finish,
    Note,
    Phase,
    ReadRecord,
    Released,
    ReleaseLease,
    Render,
    Rendered,
    RenderOutcome,
    Served,
    ServeRecord,
    StoreFailed,
)
from lambda_isr.isr.machine import IsrMachine
from lambda_isr.isr.states import CacheState
from tests.isr.test_machine import FRESH, KEY, LEASE, NOW, STALE, held, read, won

AFTER = Regeneration.AFTER_RESPONSE


def _to_acquire(
    *, after_response: bool = True, remaining: float | None = 30.0, **options: object
) -> IsrMachine:
    m = IsrMachine(IsrConfig(revalidate=60, **options))  # type: ignore[arg-type]
    m.send(Begin("GET", KEY, now=NOW, mono=0.0, remaining=remaining, after_response=after_response))
    assert m.send(read(STALE)) == AcquireLease()
    return m


def test_the_lease_winner_gets_the_stale_copy_at_once_then_rechecks_and_renders_detached() -> None:
    m = _to_acquire(regeneration=AFTER)
    served = m.send(won())  # no re-check before the answer: one read and one lease write
    assert isinstance(served, ServeRecord)
    assert served.state is CacheState.STALE  # headers as any stale copy: never CDN-fresh
    assert served.record == STALE
    assert "after-response" in served.status_entry
    assert m.phase is Phase.SERVE_AFTER
    assert m.send(Served(True)) == ReadRecord()  # the re-check, after the answer ended
    render = m.send(read(STALE))
    assert render == Render(
        CacheState.MISS, "lambda-isr; fwd=stale; detail=after-response", LEASE, detached=True
    )
    assert m.send(Rendered(RenderOutcome.COMMITTED)) == Finish()
    assert m.notes == [Note.AFTER_RESPONSE]
    assert m.phase.value == "done"


def test_a_generation_committed_meanwhile_is_not_rendered_again() -> None:
    m = _to_acquire(regeneration=AFTER)
    m.send(won())
    m.send(Served(True))
    assert m.send(read(FRESH)) == ReleaseLease(LEASE)
    assert m.send(Released()) == Finish()


def test_a_store_failure_at_the_recheck_after_still_renders_detached() -> None:
    m = _to_acquire(regeneration=AFTER)
    m.send(won())
    m.send(Served(True))
    action = m.send(StoreFailed())
    assert isinstance(action, Render)
    assert action.detached


@pytest.mark.parametrize("outcome", [RenderOutcome.EARLY_FAILURE, RenderOutcome.LATE_FAILURE])
def test_a_failing_render_after_the_response_just_finishes_and_is_noted(
    outcome: RenderOutcome,
) -> None:
    m = _to_acquire(regeneration=AFTER)
    m.send(won())
    m.send(Served(True))
    m.send(read(STALE))
    assert m.send(Rendered(outcome)) == Finish()  # nothing more is sent: the answer ended
    assert Note.AFTER_RESPONSE_FAILED in m.notes


def test_blocking_is_the_default() -> None:
    m = _to_acquire()
    assert m.send(won()) == ReadRecord()
    assert m.send(read(STALE)) == Render(CacheState.MISS, "lambda-isr; fwd=stale", LEASE)


def test_no_time_after_the_response_falls_back_to_blocking_and_says_so() -> None:
    m = _to_acquire(regeneration=AFTER, after_response=False)
    assert m.send(won()) == ReadRecord()
    assert m.send(read(STALE)) == Render(CacheState.MISS, "lambda-isr; fwd=stale", LEASE)
    assert m.notes == [Note.AFTER_RESPONSE_UNAVAILABLE]


@pytest.mark.parametrize("remaining", [4.9, 5.0, 2.0])
def test_remaining_time_not_above_the_lease_renders_blocking(remaining: float) -> None:
    # lease 4 s + deadline margin 1 s: 5 s or less left is not enough for a render after.
    m = _to_acquire(regeneration=AFTER, remaining=remaining, lease_seconds=4)
    assert m.send(won()) == ReadRecord()
    action = m.send(read(STALE))
    assert isinstance(action, Render)
    assert not action.detached
    assert m.notes == [Note.AFTER_RESPONSE_NO_TIME]


def test_remaining_time_is_counted_from_the_start_of_the_request() -> None:
    m = _to_acquire(regeneration=AFTER, remaining=8.0, lease_seconds=4)
    assert m.send(won(mono=3.0)) == ReadRecord()  # 5 s left now: not enough
    action = m.send(read(STALE, mono=3.0))
    assert isinstance(action, Render)
    assert not action.detached


def test_unknown_remaining_time_allows_the_render_after() -> None:
    m = _to_acquire(regeneration=AFTER, remaining=None)
    assert isinstance(m.send(won()), ServeRecord)


def test_a_page_with_no_copy_is_rendered_as_today() -> None:
    m = IsrMachine(IsrConfig(revalidate=60, regeneration=AFTER))
    m.send(Begin("GET", KEY, now=NOW, mono=0.0, after_response=True))
    m.send(read(None))
    assert m.send(won()) == ReadRecord()
    assert m.send(read(None)) == Render(CacheState.MISS, "lambda-isr; fwd=miss", LEASE)


def test_an_unreadable_stale_body_renders_blocking_under_the_lease() -> None:
    m = _to_acquire(regeneration=AFTER)
    m.send(won())
    assert m.send(Served(False)) == ReadRecord()  # nothing was sent: the blocking re-check
    action = m.send(read(STALE))
    assert action == Render(CacheState.MISS, "lambda-isr; fwd=stale", LEASE)
    assert m.phase is Phase.RENDER


def test_a_contender_still_gets_the_stale_copy_and_never_renders() -> None:
    m = IsrMachine(IsrConfig(revalidate=60, regeneration=AFTER))
    m.send(Begin("GET", KEY, now=NOW, mono=0.0, after_response=True))
    m.send(read(STALE))
    action = m.send(held())
    assert isinstance(action, ServeRecord)
    assert action.state is CacheState.STALE
    assert m.send(Served(True)) == Finish()
