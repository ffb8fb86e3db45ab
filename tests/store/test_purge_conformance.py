"""Variant and tag purges, run identically on memory, SQLite, moto DynamoDB, DynamoDB Local."""

from __future__ import annotations

from typing import Any

import pytest

from lambda_isr.store.contract import CacheRecord, Lease, MetaStore
from lambda_isr.store.index import PurgeIndex, key_parts
from tests.store.conftest import MetaHarness

VARIANTS = [
    "default::site.example/posts/a",
    "default::site.example/posts/a?page=2",
    "default::site.example/posts/a#c.lang=3f2a",
    "default::site.example/posts/a?page=2#h.accept-language=9e1b&c.lang=3f2a",
    "default::other.example/posts/a",
    "default::/posts/a",
    "acme::site.example/posts/a",
]
OTHERS = ["default::site.example/posts/ab", "default::site.example/posts", "default::x::/posts/a"]


def commit(
    store: MetaStore, key: str, *, tags: frozenset[str] = frozenset(), at: float = 1000.0
) -> None:
    lease = store.try_acquire_lease(key, 30)
    assert isinstance(lease, Lease), lease
    store.commit_generation(
        lease,
        CacheRecord(key, f"isr/{'a' * 32}/{'b' * 64}.html", at, 60, tags=tags),
    )


def fresh(store: MetaStore, key: str, now: float) -> bool:
    got = store.get(key)
    assert got is not None, key
    return got.is_fresh(now)


@pytest.fixture
def filled(meta_harness: MetaHarness) -> Any:
    store = meta_harness.make()
    assert isinstance(store, PurgeIndex)
    for key in VARIANTS + OTHERS:
        commit(store, key)
    meta_harness.clock.set(1001.0)
    return store


def test_key_parts() -> None:
    parts = key_parts(VARIANTS[3])
    assert parts is not None
    assert (parts.tenant, parts.host, parts.path) == ("default", "site.example", "/posts/a")
    assert key_parts("default::x::/posts/a") is None  # a custom key function's key
    assert key_parts("default::::/a") is None
    assert key_parts("default::/") is not None


def test_a_path_purge_reaches_every_variant(filled: Any, meta_harness: MetaHarness) -> None:
    purged = filled.invalidate_path("/posts/a")
    assert sorted(purged) == sorted(VARIANTS)
    now = meta_harness.clock.now()
    assert not any(fresh(filled, key, now) for key in VARIANTS)
    assert all(fresh(filled, key, now) for key in OTHERS)


def test_a_path_purge_narrowed_to_a_host_or_tenant(filled: Any, meta_harness: MetaHarness) -> None:
    assert sorted(filled.invalidate_path("/posts/a", host="other.example")) == [VARIANTS[4]]
    assert sorted(filled.invalidate_path("/posts/a", host="")) == [VARIANTS[5]]
    assert sorted(filled.invalidate_path("/posts/a", tenant="acme")) == [VARIANTS[6]]
    purged = filled.invalidate_path("/posts/a", host="site.example", tenant="default")
    assert sorted(purged) == sorted(VARIANTS[:4])
    assert filled.invalidate_path("/never") == []


def test_a_recommit_keeps_one_index_entry(filled: Any, meta_harness: MetaHarness) -> None:
    meta_harness.clock.set(1100.0)
    commit(filled, VARIANTS[0], at=1100.0)
    assert sorted(filled.invalidate_path("/posts/a")) == sorted(VARIANTS)


def test_a_tag_purge_reaches_every_tagged_variant(meta_harness: MetaHarness) -> None:
    store = meta_harness.make()
    assert isinstance(store, PurgeIndex)
    for key in VARIANTS:
        commit(store, key, tags=frozenset({"post:a", "posts"}))
    commit(store, OTHERS[0], tags=frozenset({"posts"}))
    commit(store, OTHERS[1])
    meta_harness.clock.set(1001.0)
    assert sorted(store.invalidate_tag("post:a")) == sorted(VARIANTS)
    now = meta_harness.clock.now()
    assert not any(fresh(store, key, now) for key in VARIANTS)
    assert fresh(store, OTHERS[0], now)
    assert fresh(store, OTHERS[1], now)
    assert sorted(store.invalidate_tag("posts")) == sorted([*VARIANTS, OTHERS[0]])
    assert store.invalidate_tag("none") == []


def test_a_tag_the_page_lost_no_longer_purges_it(meta_harness: MetaHarness) -> None:
    store = meta_harness.make()
    assert isinstance(store, PurgeIndex)
    commit(store, VARIANTS[0], tags=frozenset({"old", "kept"}))
    meta_harness.clock.set(1100.0)
    commit(store, VARIANTS[0], tags=frozenset({"kept", "new"}), at=1100.0)
    meta_harness.clock.set(1101.0)
    assert store.invalidate_tag("old") == []
    assert fresh(store, VARIANTS[0], 1101.0)
    # Another process (no memory of the old tags) commits: the old entry may stay, but the
    # page no longer carries the tag, so it is not purged through it.
    other = meta_harness.make(tokens="B")
    meta_harness.clock.set(1200.0)
    commit(other, VARIANTS[0], tags=frozenset({"newest"}), at=1200.0)
    meta_harness.clock.set(1201.0)
    assert other.invalidate_tag("kept") == []  # type: ignore[attr-defined]
    assert other.invalidate_tag("newest") == [VARIANTS[0]]  # type: ignore[attr-defined]


def test_a_purged_entry_stays_purged_until_a_later_render(
    filled: Any, meta_harness: MetaHarness
) -> None:
    filled.invalidate_path("/posts/a")
    got = filled.get(VARIANTS[1])
    assert got is not None
    assert got.invalidated_at == 1001.0
    meta_harness.clock.set(1002.0)
    commit(filled, VARIANTS[1], at=1002.0)
    assert fresh(filled, VARIANTS[1], 1002.0)
    assert not fresh(filled, VARIANTS[2], 1002.0)
