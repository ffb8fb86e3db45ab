"""A bounded in-process cache of recently served bodies and of the last record per key.

Bodies are keyed by the record's pointer (``html_key``, which lambda-isr's stores make
content-addressed and other writers make unique per generation), so a fresh hit costs one
metadata read and no HTML read, and a body can only ever be served for the pointer it was read
from.
The last record served per cache key lets a process answer (marked stale) while the metadata
store is down. Both are LRU-bounded; the cache is thread-safe.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from lambda_isr.store.contract import CacheRecord


def body_id(record: CacheRecord) -> str:
    """The body's identity: the pointer it was read from (never an attribute that a foreign
    writer could leave behind when it moves the pointer)."""
    return record.html_key


class BodyCache:
    def __init__(
        self,
        *,
        max_bytes: int = 32 * 1024 * 1024,
        max_item_bytes: int = 2 * 1024 * 1024,
        max_records: int = 1024,
    ) -> None:
        self.max_bytes = max_bytes
        self.max_item_bytes = min(max_item_bytes, max_bytes)
        self.max_records = max_records
        self._lock = threading.Lock()
        self._bodies: OrderedDict[str, bytes] = OrderedDict()
        self._size = 0
        self._records: OrderedDict[str, CacheRecord] = OrderedDict()

    def fits(self, size: int) -> bool:
        return size <= self.max_item_bytes

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
        with self._lock:
            old = self._bodies.pop(ident, None)
            if old is not None:
                self._size -= len(old)
            self._bodies[ident] = body
            self._size += len(body)
            while self._size > self.max_bytes and self._bodies:
                _, evicted = self._bodies.popitem(last=False)
                self._size -= len(evicted)

    def remember(self, record: CacheRecord) -> None:
        """Note ``record`` as the last one served for its cache key."""
        with self._lock:
            self._records[record.cache_key] = record
            self._records.move_to_end(record.cache_key)
            while len(self._records) > self.max_records:
                self._records.popitem(last=False)

    def last(self, cache_key: str) -> CacheRecord | None:
        with self._lock:
            return self._records.get(cache_key)

    @property
    def size(self) -> int:
        with self._lock:
            return self._size

    def __len__(self) -> int:
        with self._lock:
            return len(self._bodies)
