"""Regeneration after the response: the rules of the decision core (no I/O, like the rest).

With ``regeneration=Regeneration.AFTER_RESPONSE``, the request that wins the lease on a stale
page is answered with the stale copy as soon as it holds the lease (headers as for any stale
copy: never CDN-cacheable as fresh): one metadata read and one lease write before its first
byte. Once that answer has ended, the same invocation re-checks the record (another request
may have committed meanwhile) and renders and commits the new generation under the lease it
holds, with no client (``Render(detached=True)``). ::

    ACQUIRE       LeaseResult won + stale copy + AFTER_RESPONSE + time after the response
                              + remaining time > lease -> ServeRecord STALE (after-response)
    SERVE_AFTER   Served      ok -> ReadRecord (re-check, after the answer)
                              | unreadable -> ReadRecord (the blocking re-check: RECHECK)
    RECHECK_AFTER RecordRead  fresh -> ReleaseLease | else (or StoreFailed) -> Render(detached)
    RENDER_AFTER  Rendered    -> Finish (a failure keeps the stale copy; the pipeline released
                              the lease; noted)

It falls back to blocking (today's rule) when no time after the response exists (a buffered
runtime: noted, the driver logs it once), when the invocation's remaining time does not exceed
the lease (plus the deadline margin), and when there is no copy to serve.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lambda_isr.isr.config import Regeneration
from lambda_isr.isr.events import (
    Action,
    Finish,
    Note,
    Phase,
    ReadRecord,
    RecordRead,
    ReleaseLease,
    Render,
    Rendered,
    RenderOutcome,
    StoreFailed,
)
from lambda_isr.isr.policy import cache_status
from lambda_isr.isr.states import CacheState

if TYPE_CHECKING:
    from lambda_isr.isr.events import Served
    from lambda_isr.isr.machine import IsrMachine

DETAIL = "after-response"


def time_left(m: IsrMachine) -> float | None:
    """Seconds left in the invocation now (``None``: unknown)."""
    if m.remaining is None:
        return None
    return m.remaining - (m.mono - m.begun)


def stale_now(m: IsrMachine) -> Action | None:
    """Serve the stale copy now and regenerate after the response, or ``None``: blocking."""
    if m.cfg.regeneration is not Regeneration.AFTER_RESPONSE or m.record is None:
        return None
    if not m.after_response:
        m.notes.append(Note.AFTER_RESPONSE_UNAVAILABLE)
        return None
    left = time_left(m)
    if left is not None and left - m.cfg.deadline_margin <= m.cfg.lease_seconds:
        m.notes.append(Note.AFTER_RESPONSE_NO_TIME)
        return None
    m.notes.append(Note.AFTER_RESPONSE)
    return m._serve(Phase.SERVE_AFTER, m.record, CacheState.STALE, DETAIL)


def served(m: IsrMachine, e: Served) -> Action:
    if not e.ok:  # nothing was sent: the stale body is unreadable, regenerate blocking
        return m._to(Phase.RECHECK, ReadRecord())
    return m._to(Phase.RECHECK_AFTER, ReadRecord())


def rechecked(m: IsrMachine, e: RecordRead | StoreFailed) -> Action:
    """After the answer ended: a generation committed meanwhile needs no render."""
    assert m.lease is not None
    if isinstance(e, RecordRead):
        m.now, m.mono = e.now, e.mono
        if e.record is not None and e.record.is_fresh(e.now):
            return m._to(Phase.RELEASE, ReleaseLease(m.lease))
    entry = cache_status(fwd="stale", detail=DETAIL)
    return m._to(Phase.RENDER_AFTER, Render(CacheState.MISS, entry, m.lease, detached=True))


def rendered(m: IsrMachine, e: Rendered) -> Action:
    if e.outcome not in (RenderOutcome.COMMITTED, RenderOutcome.NOT_STORED):
        m.notes.append(Note.AFTER_RESPONSE_FAILED)
    return Finish()
