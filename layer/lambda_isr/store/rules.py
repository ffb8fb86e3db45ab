"""The store's rules, written once: leases, the generation fence and the purge fence.

Every backend applies these: the memory and SQLite stores call the functions below on the rows
they read inside one lock or transaction; the DynamoDB store sends the condition expressions
named here (built from the same rules, on the canonical attribute names) so the table decides
atomically. The conformance suite in ``tests/store`` keeps all five backends equal.

Timeline of a lease::

    acquire at t ----- held while expires_at > floor(now) ----- expires_at = ceil(t + duration)
                  refresh / commit need the token AND an unexpired lease

Timeline of a hit-for-pass marker (a render showed the page cannot be stored)::

    mark at t: the lease ends (lease_expires_at = floor(t)), pass_until = ceil(t + seconds)
    until then acquire answers "held, passing": every request renders uncached, nobody waits

Timeline of a generation::

    render starts (generated_at) -> ... -> commit: refused when the stored generation is newer
    (the generation fence) or the page was purged at or after generated_at (the purge fence):
    a render that may have read pre-purge data never clears that purge.
"""

from __future__ import annotations

import math
from enum import Enum

from lambda_isr.store.contract import FUTURE_TOLERANCE

# --- leases ---------------------------------------------------------------------------------


def lease_now(now: float) -> int:
    """The ``now`` a lease condition compares against: ``floor(now)`` (TableTheory's rounding)."""
    return math.floor(now)


def lease_expiry(now: float, duration: float) -> int:
    """A lease acquired at ``now`` for ``duration`` seconds expires at ``ceil(now + duration)``,
    so it always lasts at least the requested time."""
    return math.ceil(now + duration)


def lease_is_free(expires_at: float | None, now: float, pass_until: float | None = None) -> bool:
    """``try_acquire_lease`` succeeds iff there is no lease or the existing one has expired,
    and no hit-for-pass marker is live."""
    return (expires_at is None or expires_at <= lease_now(now)) and not pass_is_live(
        pass_until, now
    )


def pass_is_live(pass_until: float | None, now: float) -> bool:
    """A hit-for-pass marker holds while ``pass_until > floor(now)`` (the lease rounding)."""
    return pass_until is not None and pass_until > lease_now(now)


def pass_expiry(now: float, seconds: float) -> int:
    """A marker left at ``now`` for ``seconds`` ends at ``ceil(now + seconds)``."""
    return math.ceil(now + seconds)


def lease_is_owned(
    stored_token: str | None, stored_expires_at: float | None, token: str, now: float
) -> bool:
    """``refresh_lease`` and ``commit_generation`` need the caller's token and a live lease."""
    return (
        stored_token == token
        and stored_expires_at is not None
        and not lease_is_free(stored_expires_at, now)
    )


# --- commits --------------------------------------------------------------------------------


class Fence(Enum):
    """What the stored record says about a commit."""

    OPEN = "open"
    """Nothing stored, or an older generation not purged since this render started."""
    NEWER_GENERATION = "newer-generation"
    """The stored generation started after this one: never replace it."""
    PURGED_SINCE = "purged-since"
    """The page was purged at or after this render started: it may hold pre-purge data."""


def commit_fence(
    stored_generated_at: float | None,
    stored_invalidated_at: float | None,
    generated_at: float,
    now: float | None = None,
) -> Fence:
    """The generation fence, then the purge fence (times compared exactly). A stored generation
    that claims a time beyond :func:`future_limit` of the committer's clock ``now`` is not newer:
    its writer's clock ran ahead (it is stale for every reader too), so it may be replaced."""
    if (
        stored_generated_at is not None
        and stored_generated_at > generated_at
        and (now is None or math.floor(stored_generated_at) <= future_limit(now))
    ):
        return Fence.NEWER_GENERATION
    if stored_invalidated_at is not None and stored_invalidated_at >= generated_at:
        return Fence.PURGED_SINCE
    return Fence.OPEN


def future_limit(now: float) -> int:
    """The latest ``generated_at`` (whole seconds) a committer at ``now`` takes as real:
    ``floor(now + FUTURE_TOLERANCE)``; a later one comes from a clock running ahead."""
    return math.floor(now + FUTURE_TOLERANCE)


def purged_at(stored_invalidated_at: float | None, now: float) -> float:
    """A soft purge moves ``invalidated_at`` to ``now``, never back: it is the latest purge,
    which fences the commits of every render started before it."""
    if stored_invalidated_at is None or stored_invalidated_at < now:
        return now
    return stored_invalidated_at


# --- the same rules as DynamoDB condition expressions ---------------------------------------
# Placeholders: #pk pk, #exp lease_expires_at, #tok lease_token, #pass pass_until,
# #gen generated_at (seconds), #ms generated_at_ms, #inv invalidated_at, #rs revalidate_seconds;
# :now floor(now), :tok token, :s/:ms the committed generation's seconds and milliseconds,
# :gen its exact time, :future future_limit(now).

DDB_LEASE_IS_FREE = (
    "(attribute_not_exists(#pk) OR #exp <= :now) AND (attribute_not_exists(#pass) OR #pass <= :now)"
)
""":func:`lease_is_free` on the ``LOCK`` item (``#pass`` pass_until: the additive marker a
canonical acquirer ignores)."""
DDB_LEASE_IS_MINE = "#tok = :tok"
"""Release and marking need only the token (best effort, like TableTheory's release)."""
DDB_LEASE_IS_OWNED = "#tok = :tok AND #exp > :now"
""":func:`lease_is_owned` on the ``LOCK`` item."""
DDB_GENERATION_FENCE_OPEN = (
    "attribute_not_exists(#pk) OR #gen < :s OR (#gen = :s AND "
    "(attribute_not_exists(#ms) OR #ms <= :ms)) OR #gen > :future"
)
"""The generation fence of :func:`commit_fence` on the ``META`` item (seconds, then the
additive millisecond attribute; a generation from beyond :func:`future_limit` is replaced)."""
DDB_PURGE_FENCE_OPEN = "attribute_not_exists(#inv) OR #inv < :gen OR #rs <> :zero"
"""The purge fence of :func:`commit_fence`: a purge counts while ``revalidate_seconds`` is 0,
as canonical readers see it (another writer may have re-committed without clearing it)."""
DDB_PURGE_MOVES_FORWARD = (
    "attribute_exists(#pk) AND (attribute_not_exists(#inv) OR #inv < :now OR #rs <> :zero)"
)
""":func:`purged_at`: a purge never moves ``invalidated_at`` back (and needs a record)."""
