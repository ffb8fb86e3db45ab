"""The cache states a response can be in (the ``x-isr-cache`` header values)."""

from __future__ import annotations

from enum import Enum


class CacheState(Enum):
    HIT = "hit"
    """Fresh copy from the store."""
    MISS = "miss"
    """Rendered under the lease (and stored when cacheable)."""
    STALE = "stale"
    """Stale copy served while another request regenerates (or the store is down)."""
    WAIT_HIT = "wait-hit"
    """Waited for the lease holder to commit, then served its new generation."""
    STALE_ERROR = "stale-error"
    """The render failed before its first byte; the stale copy was served instead."""
    BYPASS = "bypass"
    """Not cacheable, or the wait for a lease holder timed out: rendered, never stored."""
