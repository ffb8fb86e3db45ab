"""In-memory backends: the reference implementation of the contract, for unit tests."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace

from lambda_isr.clock import SYSTEM_CLOCK, Clock
from lambda_isr.errors import CommitFencedError, LeaseNotOwnedError
from lambda_isr.store.contract import (
    DEFAULT_CONTENT_TYPE,
    AcquireResult,
    CacheRecord,
    HtmlStream,
    Lease,
    LeaseHeld,
    StoredObject,
)
from lambda_isr.store.index import key_parts, matches
from lambda_isr.store.keys import check_object_key, describe_object
from lambda_isr.store.rules import (
    Fence,
    commit_fence,
    lease_expiry,
    lease_is_free,
    lease_is_owned,
    lease_now,
    pass_expiry,
    purged_at,
)


def _uuid4() -> str:
    return str(uuid.uuid4())


class MemoryMetaStore:
    """Thread-safe dict-backed :class:`~lambda_isr.store.contract.MetaStore`."""

    def __init__(
        self, *, clock: Clock = SYSTEM_CLOCK, token_source: Callable[[], str] = _uuid4
    ) -> None:
        self._clock = clock
        self._tokens = token_source
        self._lock = threading.Lock()
        self._records: dict[str, CacheRecord] = {}
        self._leases: dict[str, Lease] = {}
        self._passes: dict[str, float] = {}
        """Hit-for-pass markers (``pass_until``) on the lease slot of a key."""
        self._variants: dict[str, set[str]] = {}
        """The variant index: path -> the cache keys committed under it."""
        self._tagged: dict[str, set[str]] = {}
        """The tag index: tag -> the cache keys whose last generation carried it."""

    def get(self, cache_key: str) -> CacheRecord | None:
        with self._lock:
            return self._records.get(cache_key)

    def try_acquire_lease(self, cache_key: str, duration: float) -> AcquireResult:
        now = self._clock.now()
        with self._lock:
            held = self._leases.get(cache_key)
            expires = held.expires_at if held is not None else None
            passing = self._passes.get(cache_key)
            if not lease_is_free(expires, now, passing):
                return LeaseHeld(cache_key, expires, passing)
            lease = Lease(cache_key, self._tokens(), float(lease_expiry(now, duration)), now)
            self._leases[cache_key] = lease
            self._passes.pop(cache_key, None)  # a new lease replaces the whole lease slot
            return lease

    def _check_owned(self, lease: Lease, now: float) -> None:
        held = self._leases.get(lease.cache_key)
        token, expires = (held.token, held.expires_at) if held is not None else (None, None)
        if not lease_is_owned(token, expires, lease.token, now):
            raise LeaseNotOwnedError(f"lease on {lease.cache_key!r} is no longer held")

    def refresh_lease(self, lease: Lease, duration: float) -> Lease:
        now = self._clock.now()
        with self._lock:
            self._check_owned(lease, now)
            fresh = replace(lease, expires_at=float(lease_expiry(now, duration)))
            self._leases[lease.cache_key] = fresh
            return fresh

    def commit_generation(self, lease: Lease, record: CacheRecord) -> None:
        now = self._clock.now()
        with self._lock:
            self._check_owned(lease, now)
            current = self._records.get(record.cache_key)
            fence = commit_fence(
                current.generated_at if current is not None else None,
                current.invalidated_at if current is not None else None,
                record.generated_at,
                now,
            )
            if fence is not Fence.OPEN:
                raise CommitFencedError(f"commit of {record.cache_key!r} fenced off: {fence.value}")
            self._records[record.cache_key] = replace(record, invalidated_at=None)
            self._index(current, record)
            del self._leases[lease.cache_key]
            self._passes.pop(lease.cache_key, None)

    def release_lease(self, lease: Lease) -> None:
        with self._lock:
            held = self._leases.get(lease.cache_key)
            if held is not None and held.token == lease.token:
                del self._leases[lease.cache_key]
                self._passes.pop(lease.cache_key, None)

    def mark_uncacheable(self, lease: Lease, seconds: float) -> bool:
        now = self._clock.now()
        with self._lock:
            held = self._leases.get(lease.cache_key)
            if held is None or held.token != lease.token:
                return False
            self._leases[lease.cache_key] = replace(held, expires_at=float(lease_now(now)))
            self._passes[lease.cache_key] = float(pass_expiry(now, seconds))
            return True

    def _index(self, current: CacheRecord | None, record: CacheRecord) -> None:
        key = record.cache_key
        parts = key_parts(key)
        if current is None and parts is not None:
            self._variants.setdefault(parts.path, set()).add(key)
        old = current.tags if current is not None else frozenset()
        for tag in old - record.tags:
            self._tagged.get(tag, set()).discard(key)
        for tag in record.tags - old:
            self._tagged.setdefault(tag, set()).add(key)

    def invalidate(self, cache_key: str) -> bool:
        now = self._clock.now()
        with self._lock:
            return self._purge(cache_key, now)

    def _purge(self, cache_key: str, now: float) -> bool:
        record = self._records.get(cache_key)
        if record is None:
            return False
        self._records[cache_key] = replace(
            record, invalidated_at=purged_at(record.invalidated_at, now)
        )
        return True

    def invalidate_path(
        self, path: str, *, host: str | None = None, tenant: str | None = None
    ) -> list[str]:
        now = self._clock.now()
        with self._lock:
            keys = [
                k
                for k in self._variants.get(path, ())
                if (p := key_parts(k)) is not None and matches(p, host=host, tenant=tenant)
            ]
            return [k for k in keys if self._purge(k, now)]

    def invalidate_tag(self, tag: str) -> list[str]:
        now = self._clock.now()
        with self._lock:
            return [k for k in list(self._tagged.get(tag, ())) if self._purge(k, now)]


class MemoryHtmlStore:
    """Dict-backed :class:`~lambda_isr.store.contract.HtmlStore`."""

    def __init__(self, *, prefix: str = "isr") -> None:
        self._prefix = prefix
        self._lock = threading.Lock()
        self._objects: dict[str, tuple[StoredObject, bytes]] = {}
        self.puts = 0
        """Bodies actually written (content-addressed skips are not counted)."""

    def put(
        self,
        cache_key: str,
        body: bytes,
        *,
        status: int = 200,
        content_type: str = DEFAULT_CONTENT_TYPE,
        headers: Sequence[tuple[str, str]] = (),
    ) -> StoredObject:
        meta = describe_object(
            self._prefix, cache_key, body, status=status, content_type=content_type, headers=headers
        )
        key = meta.key
        with self._lock:
            found = self._objects.get(key)
            # Content-addressed: the same bytes are already there, unless that copy is damaged.
            if found is None or found != (meta, body):
                self._objects[key] = (meta, bytes(body))
                self.puts += 1
            return self._objects[key][0]

    def open(self, key: str, chunk_size: int = 65_536) -> HtmlStream | None:
        check_object_key(key)
        with self._lock:
            found = self._objects.get(key)
        if found is None:
            return None
        meta, body = found

        def chunks() -> Iterator[bytes]:
            for start in range(0, len(body), chunk_size):
                yield body[start : start + chunk_size]

        return HtmlStream(meta, chunks())

    def delete(self, key: str) -> None:
        """Test helper: lose an object behind a pointer."""
        with self._lock:
            self._objects.pop(key, None)

    def damage(self, key: str, body: bytes) -> None:
        """Test helper: replace the bytes behind ``key`` (its metadata stays)."""
        with self._lock:
            meta, _ = self._objects[key]
            self._objects[key] = (meta, body)
