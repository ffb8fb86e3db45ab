"""A bounded in-process cache of recently served bodies and of the last record per key.

Bodies are keyed by the record's pointer (``html_key``, which lambda-isr's stores make
content-addressed and other writers make unique per generation), so a fresh hit costs one
metadata read and no HTML read, and a body can only ever be served for the pointer it was read
from.
The last record served per cache key lets a process answer (marked stale) while the metadata
store is down. Both are LRU and the cache is thread-safe.

**The bound.** Each entry is counted at what it costs in memory, not at its payload: the body
and its key as Python objects (``sys.getsizeof``) plus :data:`ENTRY_OVERHEAD` for the ordered
dict's slot and node; a record counts its object, its strings, headers and tags the same way.

- bodies: at most ``max_entries`` of them, together at most ``max_bytes``; one body at most
  ``max_item_bytes`` (a body that cannot fit is not cached);
- records: at most ``max_records`` of them, together at most ``max_record_bytes``.

So what a crawler can make this cache hold is bounded by ``max_bytes + max_record_bytes``
(32 MiB + 1 MiB by default), however small or many the pages: a flood of tiny 404 pages evicts
old entries instead of growing the sandbox.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from sys import getsizeof

from lambda_isr.store.contract import CacheRecord

ENTRY_OVERHEAD = 128
"""Bytes per entry for the ordered dict's slot, index and linked-list node (measured at 75 to
95 bytes on CPython 3.11 between resizes; rounded up)."""

_EMPTY_BODY = getsizeof(b"") + getsizeof("") + ENTRY_OVERHEAD


def body_id(record: CacheRecord) -> str:
    """The body's identity: the pointer it was read from (never an attribute that a foreign
    writer could leave behind when it moves the pointer)."""
    return record.html_key


def body_cost(ident: str, body: bytes) -> int:
    """What one cached body costs in memory: its bytes object, its key and the slot."""
    return getsizeof(body) + getsizeof(ident) + ENTRY_OVERHEAD


def record_cost(key: str, record: CacheRecord) -> int:
    """What one remembered record costs in memory (shared strings counted as if they were not:
    the estimate errs on the high side)."""
    cost = getsizeof(record) + getsizeof(key) + ENTRY_OVERHEAD
    for text in (record.cache_key, record.html_key, record.etag, record.content_hash):
        if text is not None:
            cost += getsizeof(text)
    cost += getsizeof(record.content_type) + getsizeof(record.headers)
    for pair in record.headers:
        cost += getsizeof(pair) + sum(getsizeof(part) for part in pair)
    cost += getsizeof(record.tags) + sum(getsizeof(tag) for tag in record.tags)
    return cost


class BodyCache:
    """Bodies by pointer and the last record per cache key, each bounded by count and bytes."""

    def __init__(
        self,
        *,
        max_bytes: int = 32 * 1024 * 1024,
        max_item_bytes: int = 2 * 1024 * 1024,
        max_records: int = 1024,
        max_entries: int = 4096,
        max_record_bytes: int = 1024 * 1024,
    ) -> None:
        self.max_bytes = max_bytes
        # The largest payload whose entry can be held at all (the key's length aside).
        self.max_item_bytes = min(max_item_bytes, max_bytes - _EMPTY_BODY)
        self.max_records = max_records
        self.max_entries = max_entries
        self.max_record_bytes = max_record_bytes
        self._lock = threading.Lock()
        self._bodies: OrderedDict[str, bytes] = OrderedDict()
        self._size = 0
        self._records: OrderedDict[str, tuple[CacheRecord, int]] = OrderedDict()
        self._record_size = 0

    def fits(self, size: int) -> bool:
        """Whether a body of ``size`` bytes may be cached (callers skip copying it if not)."""
        return 0 <= size <= self.max_item_bytes

    def get(self, record: CacheRecord) -> bytes | None:
        ident = body_id(record)
        with self._lock:
            body = self._bodies.get(ident)
            if body is not None:
                self._bodies.move_to_end(ident)
            return body

    def put(self, record: CacheRecord, body: bytes) -> None:
        if not self.fits(len(body)):
            return
        ident = body_id(record)
        cost = body_cost(ident, body)
        if cost > self.max_bytes or self.max_entries <= 0:
            return
        bodies = self._bodies
        with self._lock:
            old = bodies.pop(ident, None)
            if old is not None:
                self._size -= body_cost(ident, old)
            bodies[ident] = body
            self._size += cost
            while self._size > self.max_bytes or len(bodies) > self.max_entries:
                gone, evicted = bodies.popitem(last=False)
                self._size -= body_cost(gone, evicted)

    def remember(self, record: CacheRecord) -> None:
        """Note ``record`` as the last one served for its cache key."""
        key = record.cache_key
        records = self._records
        with self._lock:
            held = records.get(key)
            if held is not None and held[0] is record:  # the same record again (a hit)
                records.move_to_end(key)
                return
        cost = record_cost(key, record)
        with self._lock:
            held = records.pop(key, None)
            if held is not None:
                self._record_size -= held[1]
            if cost > self.max_record_bytes or self.max_records <= 0:
                return
            records[key] = (record, cost)
            self._record_size += cost
            while self._record_size > self.max_record_bytes or len(records) > self.max_records:
                _, (_, evicted) = records.popitem(last=False)
                self._record_size -= evicted

    def last(self, cache_key: str) -> CacheRecord | None:
        with self._lock:
            held = self._records.get(cache_key)
            return held[0] if held is not None else None

    @property
    def size(self) -> int:
        """Bytes the cached bodies count against ``max_bytes`` (bookkeeping included)."""
        with self._lock:
            return self._size

    @property
    def record_size(self) -> int:
        """Bytes the remembered records count against ``max_record_bytes``."""
        with self._lock:
            return self._record_size

    def __len__(self) -> int:
        with self._lock:
            return len(self._bodies)
