"""Issue 16, item 10: a writer whose clock runs ahead. A record generated in the future beyond
a small tolerance (5 s) is stale, and replaced by the next regeneration; freshness never
exceeds ``revalidate`` on the reader's clock (so ``s-maxage`` never does either)."""

from __future__ import annotations

import re

import pytest

from lambda_isr.store.contract import FUTURE_TOLERANCE
from lambda_isr.store.memory import MemoryHtmlStore, MemoryMetaStore
from lambda_isr.testing import FakeClock
from tests.isr.helpers import Env, key_for, make_env, stream
from tests.support.events import load_event

NOW = 1_000_000.0


def _sandbox(clock: FakeClock, meta: MemoryMetaStore, html: MemoryHtmlStore) -> Env:
    return make_env(clock=clock, meta_store=meta, html_store=html, revalidate=60)


def _s_maxage(cache_control: str) -> int:
    found = re.search(r"s-maxage=(\d+)", cache_control)
    assert found is not None, cache_control
    return int(found.group(1))


def test_a_copy_from_a_clock_300_s_ahead_is_stale_and_replaced() -> None:
    html = MemoryHtmlStore()
    meta = MemoryMetaStore(clock=FakeClock(NOW))
    ahead = _sandbox(FakeClock(NOW + 300), meta, html)
    assert stream(ahead, load_event("get")).headers["x-isr-cache"] == "miss"
    reader = _sandbox(FakeClock(NOW), meta, html)
    answer = stream(reader, load_event("get"))
    assert answer.headers["x-isr-cache"] == "miss"  # not a hit with s-maxage=359
    record = meta.get(key_for())
    assert record is not None
    assert record.generated_at == NOW  # the regeneration replaced the future copy
    hit = stream(reader, load_event("get"))
    assert hit.headers["x-isr-cache"] == "hit"
    assert _s_maxage(hit.headers["cache-control"]) <= 60


@pytest.mark.parametrize("ahead_by", [1.0, 3.0, FUTURE_TOLERANCE])
def test_within_the_tolerance_freshness_is_capped_at_revalidate(ahead_by: float) -> None:
    html = MemoryHtmlStore()
    meta = MemoryMetaStore(clock=FakeClock(NOW))
    stream(_sandbox(FakeClock(NOW + ahead_by), meta, html), load_event("get"))
    reader = _sandbox(FakeClock(NOW), meta, html)
    hit = stream(reader, load_event("get"))
    assert hit.headers["x-isr-cache"] == "hit"
    assert _s_maxage(hit.headers["cache-control"]) == 60  # never 60 + ahead_by
    assert "ttl=60" in hit.headers["cache-status"]
    reader.clock.advance(60 + ahead_by)  # the whole generation never outlives the tolerance
    assert stream(reader, load_event("get")).headers["x-isr-cache"] != "hit"
