"""Issue 16, item 3: the in-process body cache is bounded by what its entries cost in memory,
not by their payload only (a crawler of tiny or distinct pages cannot grow a warm sandbox past
the configured cap).

Growth is measured with ``tracemalloc`` (Python allocations only: deterministic, no timing)."""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable

import pytest

from lambda_isr.isr.bodycache import BodyCache
from lambda_isr.store.contract import CacheRecord

pytestmark = pytest.mark.timeout(240)

SLACK = 1.25


def _digest(i: int) -> str:
    return f"{i:064x}"  # as long as a SHA-256, cheaper to make


def _pointer(i: int) -> str:
    return f"isr/html/{_digest(i)}.html"


def _tiny(i: int) -> tuple[CacheRecord, bytes]:
    """Reproduction 1: a 9-byte body per distinct pointer."""
    return CacheRecord(f"k{i}", _pointer(i), 0.0, 60), b"%09d" % i


def _not_found(i: int) -> tuple[CacheRecord, bytes]:
    """Reproduction 2: a distinct 404 URL, with a record shaped like the face's."""
    digest = _digest(i)
    record = CacheRecord(
        f"v1|example.lambda-url.us-east-1.on.aws|/missing/{i}|q=|h=|c=",
        f"isr/html/{digest}.html",
        1_000_000.0 + i,
        60,
        etag=f'"{digest[:32]}"',
        status=404,
        headers=(("content-language", "en"), ("x-page", f"missing-{i}")),
        content_hash=digest,
        size=40,
    )
    return record, f"<p>no page at /missing/{i}</p>".encode().ljust(40)


def _cap(cache: BodyCache) -> int:
    return cache.max_bytes + getattr(cache, "max_record_bytes", 0)


def _growth(cache: BodyCache, count: int, make: Callable[[int], tuple[CacheRecord, bytes]]) -> int:
    """Bytes still allocated after ``count`` put + remember calls (what commit does)."""
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for i in range(count):
            record, body = make(i)
            cache.put(record, body)
            cache.remember(record)
        del record, body
        return tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()


def test_tiny_bodies_stay_within_the_cap() -> None:
    """Reproduction 1, scaled down (300,000 bodies of 9 bytes grew a 32 MiB cache by 66 MiB):
    40,000 of them against a 2 MiB cap, with the default entry bound."""
    cache = BodyCache(max_bytes=2 * 1024 * 1024)
    grown = _growth(cache, 40_000, _tiny)
    assert grown <= SLACK * _cap(cache), (grown, _cap(cache))
    assert 0 < len(cache) <= cache.max_entries
    assert cache.size <= cache.max_bytes


@pytest.mark.parametrize("make", [_tiny, _not_found], ids=["tiny-bodies", "distinct-404s"])
def test_bytes_bound_counts_per_entry_overhead(
    make: Callable[[int], tuple[CacheRecord, bytes]],
) -> None:
    """With the entry count out of the way, the byte budget alone holds the line."""
    cache = BodyCache(max_bytes=1024 * 1024)
    cache.max_entries = cache.max_records = 10**9  # only the byte budgets bound the cache
    grown = _growth(cache, 20_000, make)
    assert grown <= SLACK * _cap(cache), (grown, _cap(cache))
    assert cache.size <= cache.max_bytes
    assert cache.record_size <= cache.max_record_bytes


def test_20000_distinct_records_stay_within_the_cap() -> None:
    """Reproduction 2 (40,000 distinct 404 URLs added 13.9 MiB), scaled down: 20,000 of them
    against a 1 MiB cap, with the default entry bounds."""
    cache = BodyCache(max_bytes=1024 * 1024)
    grown = _growth(cache, 20_000, _not_found)
    assert grown <= SLACK * _cap(cache), (grown, _cap(cache))


def test_entry_count_is_bounded_too() -> None:
    cache = BodyCache(max_entries=3, max_records=2)
    for i in range(10):
        record, body = _tiny(i)
        cache.put(record, body)
        cache.remember(record)
    assert len(cache) == 3
    kept = [cache.get(_tiny(i)[0]) for i in (6, 7, 8, 9)]
    assert kept == [None, b"%09d" % 7, b"%09d" % 8, b"%09d" % 9]
    assert [cache.last(f"k{i}") is not None for i in (7, 8, 9)] == [False, True, True]


def test_lru_order_and_item_limit_with_costs() -> None:
    probe = BodyCache()
    record_a, record_b, record_c = (_tiny(i)[0] for i in range(3))
    probe.put(record_a, b"12345")
    entry = probe.size  # one small entry's cost, bookkeeping included
    assert entry > len(b"12345")  # payloads are small next to the bookkeeping
    cache = BodyCache(max_bytes=2 * entry + entry // 2, max_item_bytes=64)
    cache.put(record_a, b"12345")
    cache.put(record_b, b"12345")
    assert cache.get(record_a) == b"12345"  # a is now the most recent
    cache.put(record_c, b"12345")
    assert cache.get(record_b) is None
    assert cache.get(record_a) == cache.get(record_c) == b"12345"
    assert cache.size == 2 * entry
    big = _tiny(9)[0]
    assert not cache.fits(65)
    cache.put(big, b"x" * 65)  # larger than an item may be
    assert cache.get(big) is None


def test_zero_capacity_caches_no_body_but_keeps_records() -> None:
    """``max_bytes=0`` turns body caching off; the last records (outage fallback) stay."""
    cache = BodyCache(max_bytes=0)
    record, body = _not_found(1)
    assert not cache.fits(0)
    cache.put(record, body)
    cache.remember(record)
    assert len(cache) == 0
    assert cache.size == 0
    assert cache.last(record.cache_key) == record


def test_replacing_entries_keeps_the_accounting_exact() -> None:
    cache = BodyCache()
    record, _ = _not_found(1)
    for body in (b"a" * 100, b"b" * 10, b"c" * 1000):
        cache.put(record, body)
        cache.remember(record)
    fresh = BodyCache()
    fresh.put(record, b"c" * 1000)
    fresh.remember(record)
    assert (cache.size, cache.record_size, len(cache)) == (fresh.size, fresh.record_size, 1)


def test_remembering_the_same_record_again_keeps_lru_order_and_accounting() -> None:
    cache = BodyCache(max_records=2)
    a, b, c = (_not_found(i)[0] for i in range(3))
    cache.remember(a)
    cache.remember(b)
    size = cache.record_size
    cache.remember(a)  # a hit on the same record object: most recent again, counted once
    assert cache.record_size == size
    cache.remember(c)  # evicts the least recent: b, not a
    assert cache.last(a.cache_key) is a
    assert cache.last(b.cache_key) is None
    assert cache.last(c.cache_key) is c
    fresh = BodyCache(max_records=2)
    fresh.remember(a)
    fresh.remember(c)
    assert cache.record_size == fresh.record_size
