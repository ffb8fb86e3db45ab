"""The store's rules, written once: leases, the generation fence and the purge fence.

Every backend applies these: the memory and SQLite stores call the functions below on the rows
they read inside one lock or transaction; the DynamoDB store sends the condition expressions
named here (built from the same rules, on the canonical attribute names) so the table decides
atomically. The conformance suite in ``tests/store`` keeps all five backends equal.

Timeline of a lease::

    acquire at t ----- held while expires_at > floor(now) ----- expires_at = ceil(t + duration)
                  refresh / commit need the token AND an unexpired lease

Timeline of a generation::

    render starts (generated_at) -> ... -> commit: refused when the stored generation is newer
    (the generation fence) or the page was purged at or after generated_at (the purge fence):
    a render that may have read pre-purge data never clears that purge.
"""

from __future__ import annotations

import math
from enum import Enum

# --- leases ---------------------------------------------------------------------------------


def lease_now(now: float) -> int:
    """The ``now`` a lease condition compares against: ``floor(now)`` (TableTheory's rounding)."""
    return math.floor(now)


def lease_expiry(now: float, duration: float) -> int:
    """A lease acquired at ``now`` for ``duration`` seconds expires at ``ceil(now + duration)``,
    so it always lasts at least the requested time."""
    return math.ceil(now + duration)


def lease_is_free(expires_at: float | None, now: float) -> bool:
    """``try_acquire_lease`` succeeds iff there is no lease or the existing one has expired."""
    return expires_at is None or expires_at <= lease_now(now)


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
    stored_generated_at: float | None, stored_invalidated_at: float | None, generated_at: float
) -> Fence:
    """The generation fence, then the purge fence (times compared exactly)."""
    if stored_generated_at is not None and stored_generated_at > generated_at:
        return Fence.NEWER_GENERATION
    if stored_invalidated_at is not None and stored_invalidated_at >= generated_at:
        return Fence.PURGED_SINCE
    return Fence.OPEN


def purged_at(stored_invalidated_at: float | None, now: float) -> float:
    """A soft purge moves ``invalidated_at`` to ``now``, never back: it is the latest purge,
    which fences the commits of every render started before it."""
    if stored_invalidated_at is None or stored_invalidated_at < now:
        return now
    return stored_invalidated_at


# --- the same rules as DynamoDB condition expressions ---------------------------------------
# Placeholders: #pk pk, #exp lease_expires_at, #tok lease_token, #gen generated_at (seconds),
# #ms generated_at_ms, #inv invalidated_at, #rs revalidate_seconds; :now floor(now),
# :tok token, :s/:ms the committed generation's seconds and milliseconds, :gen its exact time.

DDB_LEASE_IS_FREE = "attribute_not_exists(#pk) OR #exp <= :now"
""":func:`lease_is_free` on the ``LOCK`` item."""
DDB_LEASE_IS_OWNED = "#tok = :tok AND #exp > :now"
""":func:`lease_is_owned` on the ``LOCK`` item."""
DDB_GENERATION_FENCE_OPEN = (
    "attribute_not_exists(#pk) OR #gen < :s OR (#gen = :s AND "
    "(attribute_not_exists(#ms) OR #ms <= :ms))"
)
"""The generation fence of :func:`commit_fence` on the ``META`` item (seconds, then the
additive millisecond attribute)."""
DDB_PURGE_FENCE_OPEN = "attribute_not_exists(#inv) OR #inv < :gen OR #rs <> :zero"
"""The purge fence of :func:`commit_fence`: a purge counts while ``revalidate_seconds`` is 0,
as canonical readers see it (another writer may have re-committed without clearing it)."""
DDB_PURGE_MOVES_FORWARD = (
    "attribute_exists(#pk) AND (attribute_not_exists(#inv) OR #inv < :now OR #rs <> :zero)"
)
""":func:`purged_at`: a purge never moves ``invalidated_at`` back (and needs a record)."""
