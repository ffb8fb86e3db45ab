"""The store contract: records, leases and the two protocols every backend implements.

Times are epoch seconds as floats everywhere inside the code. Backends convert at their own
boundary (DynamoDB writes the canonical integer seconds plus additive sub-second attributes).

Semantics every backend honours (written once in :mod:`lambda_isr.store.rules`, checked by the
one conformance suite in ``tests/store``):

- A lease is *held* iff ``expires_at > now``. ``try_acquire_lease`` succeeds iff there is no
  lease or the existing one has expired; it never waits.
- ``expires_at = ceil(now + duration)`` and the ``now`` used for conditions is ``floor(now)``
  (TableTheory's rounding), so a lease always lasts at least the requested time.
- ``refresh_lease`` and ``commit_generation`` require the caller's token *and* an unexpired
  lease, else :class:`~lambda_isr.errors.LeaseNotOwnedError`.
- ``commit_generation`` atomically writes the record and deletes the lease. It never replaces
  a record whose ``generated_at`` is newer than the committed one
  (:class:`~lambda_isr.errors.CommitFencedError`), unless that time lies more than
  :data:`FUTURE_TOLERANCE` beyond the committer's clock: a writer whose clock ran ahead.
- A record's ``generated_at`` is the time its render *started*. ``commit_generation`` never
  clears a purge that render may not have seen: if the stored record's ``invalidated_at`` is
  ``>=`` the committed ``generated_at``, it raises ``CommitFencedError`` and changes nothing
  (the record stays purged and servable as stale; the caller releases its lease and a later
  render, started after the purge, commits and clears it).
- ``release_lease`` is best effort: it deletes the lease only if the token matches and never
  raises for a lost lease.
- ``invalidate`` is a soft purge: the record stays readable (servable as stale) but is no longer
  fresh, for lambda-isr readers and for canonical TableTheory readers alike. ``invalidated_at``
  is the latest purge (it never moves back), so every purge fences the renders started before it.
- A record whose stored form is missing or mistyped is returned as ``None`` (a miss) with one
  warning log line, never an exception. A stored header or content type that no response may
  carry (CR, LF or NUL anywhere, a bad header name: :func:`header_ok`) makes it mistyped.
- Hit-for-pass (:class:`PassMarker`, every lambda-isr backend): ``mark_uncacheable`` turns the
  caller's lease into a marker on the ``LOCK`` item (additive ``pass_until``); until it passes,
  ``try_acquire_lease`` answers ``LeaseHeld(pass_until=...)``. The lease itself is free at once
  for canonical TableTheory acquirers, whose put replaces the item (and ends the marker).
- Outages (throttling, timeouts, 5xx, locked database) surface as
  :class:`~lambda_isr.errors.StoreUnavailableError` after bounded retries, within a bounded
  time (a few seconds by default): a store that never answers must not hang a request.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Protocol, runtime_checkable

StoredHeaders = tuple[tuple[str, str], ...]
"""Cacheable response headers, lowercase names, in a stable order."""

Headers = StoredHeaders
"""Former name of :data:`StoredHeaders`."""

DEFAULT_CONTENT_TYPE = "text/html; charset=utf-8"

FUTURE_TOLERANCE = 5.0
"""Seconds a record's ``generated_at`` may lie ahead of the reader's clock (writers' clocks
differ a little). A record generated further in the future is stale: a writer whose clock runs
ahead never makes its copy fresh for longer than ``revalidate_seconds``."""

STATIC_REVALIDATE = 10 * 365 * 86_400
"""``revalidate_seconds`` of a prerendered page: ten years, so canonical readers (freshness =
``generated_at + revalidate_seconds``) never see it stale unless it is purged."""

_FORBIDDEN = ("\r", "\n", "\0")


def header_ok(name: str, value: str) -> bool:
    """Whether a stored header can go out in a response as it is: a name without CR, LF, NUL,
    ``:``, space or control character, and a value without CR, LF or NUL."""
    return (
        bool(name)
        and all(c > " " and c not in ":\x7f" for c in name)
        and not any(c in value for c in _FORBIDDEN)
    )


def storable(content_type: str, headers: Sequence[tuple[str, str]]) -> bool:
    """Whether every backend can store this head: the content type and each header in
    printable ASCII (S3 object metadata takes nothing else). A render whose head is not is
    served, never stored."""
    texts = [content_type, *(part for pair in headers for part in pair)]
    return all(text.isascii() and text.isprintable() for text in texts) and all(
        header_ok(name, value) for name, value in headers
    )


@dataclass(frozen=True, slots=True)
class CacheRecord:
    """The metadata of one cached generation of one page (the ``META`` item).

    ``html_key`` is the canonical ``s3_key``: the pointer to the body in the HTML store.
    ``revalidate_seconds`` is the configured policy, kept even after a soft purge;
    ``invalidated_at`` marks a purge. Freshness is decided only from what the record stores.
    """

    cache_key: str
    html_key: str
    generated_at: float
    revalidate_seconds: int
    etag: str | None = None
    status: int = 200
    content_type: str = DEFAULT_CONTENT_TYPE
    headers: StoredHeaders = ()
    tags: frozenset[str] = frozenset()
    content_hash: str | None = None
    size: int | None = None
    invalidated_at: float | None = None
    route: str | None = None
    """The route pattern of the face that rendered it (``/posts/{slug}``), when known: an
    additive attribute (``route`` on the ``META`` item) that readers may ignore."""
    static: bool = False
    """A prerendered (SSG) page: its ``META`` item carries no ``ttl`` (never collected) and its
    ``revalidate_seconds`` is :data:`STATIC_REVALIDATE` (never stale on a schedule; a purge
    still makes it stale). Stored as the additive ``static`` attribute."""

    @property
    def fresh_until(self) -> float:
        """Epoch seconds at which the record stops being fresh (never later than a purge), as
        its writer's clock has it; readers use :meth:`fresh_until_for`."""
        until = self.generated_at + self.revalidate_seconds
        if self.invalidated_at is not None:
            return min(until, self.invalidated_at)
        return until

    def fresh_until_for(self, now: float) -> float:
        """When the record stops being fresh on the reader's clock ``now``: never more than
        ``revalidate_seconds`` ahead, and at once (``now``) for a record generated more than
        :data:`FUTURE_TOLERANCE` seconds in the future."""
        if not math.isfinite(self.generated_at) or self.generated_at > now + FUTURE_TOLERANCE:
            return min(self.fresh_until, now)
        return min(self.fresh_until, now + self.revalidate_seconds)

    def is_fresh(self, now: float) -> bool:
        return self.invalidated_at is None and self.fresh_until_for(now) > now

    def remaining(self, now: float) -> float:
        """Seconds of freshness left on the reader's clock (0 when stale), at most
        ``revalidate_seconds``."""
        if self.invalidated_at is not None:
            return 0.0
        return max(0.0, self.fresh_until_for(now) - now)


@dataclass(frozen=True, slots=True)
class Lease:
    """A regeneration lease (the ``LOCK`` item) held by this process."""

    cache_key: str
    token: str
    expires_at: float
    acquired_at: float

    def is_held(self, now: float) -> bool:
        return self.expires_at > now


@dataclass(frozen=True, slots=True)
class LeaseHeld:
    """``try_acquire_lease`` lost: somebody else's live lease, expiring at ``expires_at``."""

    cache_key: str
    expires_at: float | None = None
    pass_until: float | None = None
    """Set while a hit-for-pass marker is live (see :class:`PassMarker`): the page cannot be
    stored, so nobody should wait for it; render uncached until then."""

    def passing(self, now: float) -> bool:
        """Whether the hit-for-pass marker is live at ``now``."""
        return self.pass_until is not None and self.pass_until > now


AcquireResult = Lease | LeaseHeld


@runtime_checkable
class MetaStore(Protocol):
    """Page metadata and regeneration leases (FaceTheory's ``IsrMetaStore`` in Python)."""

    def get(self, cache_key: str) -> CacheRecord | None:
        """The current record, or ``None`` (missing, or unreadable: a miss)."""
        ...

    def try_acquire_lease(self, cache_key: str, duration: float) -> AcquireResult:
        """A new :class:`Lease`, or :class:`LeaseHeld` when another live lease exists."""
        ...

    def refresh_lease(self, lease: Lease, duration: float) -> Lease:
        """Extend a held lease to ``ceil(now + duration)``; raises ``LeaseNotOwnedError``."""
        ...

    def commit_generation(self, lease: Lease, record: CacheRecord) -> None:
        """Write ``record`` and delete the lease atomically; raises ``LeaseNotOwnedError``."""
        ...

    def release_lease(self, lease: Lease) -> None:
        """Delete the lease if still ours. Best effort: never raises for a lost lease."""
        ...

    def invalidate(self, cache_key: str) -> bool:
        """Soft purge: stale for every reader, still servable. ``False`` if no record."""
        ...


@runtime_checkable
class PassMarker(Protocol):
    """A meta store that can leave a hit-for-pass marker (all of lambda-isr's backends do; a
    store without it makes an uncacheable page's requests take the lease one after another)."""

    def mark_uncacheable(self, lease: Lease, seconds: float) -> bool:
        """Release ``lease`` and, for ``ceil(now + seconds)``, make ``try_acquire_lease`` answer
        ``LeaseHeld(pass_until=...)``. ``False`` (nothing written) when the lease is no longer
        ours. Raises ``StoreUnavailableError`` on an outage."""
        ...


@dataclass(frozen=True, slots=True)
class StoredObject:
    """What the HTML store knows about one stored body."""

    key: str
    etag: str
    size: int
    status: int = 200
    content_type: str = DEFAULT_CONTENT_TYPE
    headers: StoredHeaders = ()
    content_hash: str = ""


@dataclass(slots=True)
class HtmlStream:
    """A stored body opened for reading, as a stream of chunks. Close it (or use ``with``)."""

    meta: StoredObject
    chunks: Iterator[bytes]
    _close: Callable[[], None] = field(default=lambda: None)
    _damaged: Callable[[], None] = field(default=lambda: None)

    def read_all(self) -> bytes:
        try:
            return b"".join(self.chunks)
        finally:
            self.close()

    def close(self) -> None:
        self._close()

    def damaged(self) -> None:
        """The reader found the body does not match its record: a store that remembers the
        object as good forgets it, so the next ``put`` of that key checks it (and repairs it)."""
        self._damaged()

    def __enter__(self) -> HtmlStream:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


@runtime_checkable
class HtmlStore(Protocol):
    """Page bodies, content-addressed: an unchanged body is not written again."""

    def put(
        self,
        cache_key: str,
        body: bytes,
        *,
        status: int = 200,
        content_type: str = DEFAULT_CONTENT_TYPE,
        headers: Sequence[tuple[str, str]] = (),
    ) -> StoredObject:
        """Store ``body`` under a key derived from the cache key and the content hash."""
        ...

    def open(self, key: str, chunk_size: int = 65_536) -> HtmlStream | None:
        """Open a stored body for streaming, or ``None`` when it is missing."""
        ...


@dataclass(frozen=True, slots=True)
class Store:
    """The pair the ISR algorithm works with."""

    meta: MetaStore
    html: HtmlStore
    description: str = ""
