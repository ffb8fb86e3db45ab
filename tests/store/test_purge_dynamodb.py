"""The DynamoDB purge indexes: item shapes beside the canonical items, written only when they
change, bounded store calls per purged entry, and 1,000 tagged variants purged through a site."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from lambda_isr import FaceRequest, FaceResult, invalidate_tags
from lambda_isr.app import FaceApp
from lambda_isr.store.contract import STATIC_REVALIDATE, CacheRecord, Lease, Store
from lambda_isr.store.dynamodb import DEFAULT_RETENTION_SECONDS, DynamoDbMetaStore
from lambda_isr.store.keys import cache_key_hash
from lambda_isr.store.memory import MemoryHtmlStore
from lambda_isr.testing import FakeClock
from tests.conftest import DdbTable
from tests.isr.helpers import FakeContext
from tests.store.test_dynamodb import canonical_fresh, make, raw, table  # noqa: F401
from tests.support.events import make_event

KEY = "default::site.example/posts/a?page=2#c.lang=3f2a"
META_PK = f"CACHE#{cache_key_hash(KEY)}"
SK = f"KEY#{cache_key_hash(KEY)}"
PATH_PK = f"PATH#{cache_key_hash('/posts/a')}"


@contextmanager
def calls(t: DdbTable) -> Iterator[list[str]]:
    seen: list[str] = []

    def note(model: Any, **_: Any) -> None:
        seen.append(model.name)

    t.client.meta.events.register("before-call.dynamodb.*", note)
    try:
        yield seen
    finally:
        t.client.meta.events.unregister("before-call.dynamodb.*", note)


def commit(store: DynamoDbMetaStore, record: CacheRecord) -> None:
    lease = store.try_acquire_lease(record.cache_key, 30)
    assert isinstance(lease, Lease)
    store.commit_generation(lease, record)


def rec(
    at: float = 1000.0,
    tags: frozenset[str] = frozenset({"post:a"}),
    revalidate: int = 60,
    **kw: Any,
) -> CacheRecord:
    return CacheRecord(KEY, f"isr/{'a' * 32}/{'b' * 64}.html", at, revalidate, tags=tags, **kw)


def test_index_items_extend_the_schema(table: DdbTable) -> None:  # noqa: F811
    store = make(table)
    commit(store, rec())
    meta = raw(table, "META", META_PK)
    assert meta is not None
    assert meta["ttl"] == {"N": str(1000 + DEFAULT_RETENTION_SECONDS)}
    entry = raw(table, SK, PATH_PK)
    assert entry is not None
    assert entry == {
        "pk": {"S": PATH_PK},
        "sk": {"S": SK},
        "target_pk": {"S": META_PK},
        "cache_key": {"S": KEY},
        "host": {"S": "site.example"},
        "tenant": {"S": "default"},
        "ttl": {"N": str(1000 + 2 * DEFAULT_RETENTION_SECONDS)},
    }
    tagged = raw(table, SK, "TAG#post:a")
    assert tagged is not None
    assert tagged["target_pk"] == {"S": META_PK}
    assert int(tagged["ttl"]["N"]) > int(meta["ttl"]["N"])  # an entry outlives its META
    assert raw(table, "LOCK", META_PK) is None


def test_index_items_are_written_only_when_they_change(table: DdbTable) -> None:  # noqa: F811
    store = make(table)
    commit(store, rec())
    store._clock.set(1100.0)  # type: ignore[attr-defined]
    with calls(table) as seen:
        commit(store, rec(1100.0))
    assert seen == ["PutItem", "TransactWriteItems"]
    entry = raw(table, SK, PATH_PK)
    assert entry is not None
    assert entry["ttl"] == {"N": str(1000 + 2 * DEFAULT_RETENTION_SECONDS)}
    store._clock.set(1200.0)  # type: ignore[attr-defined]
    with calls(table) as seen:
        commit(store, rec(1200.0, frozenset({"post:b"})))
    assert seen == ["PutItem", "TransactWriteItems", "BatchWriteItem"]  # old tag dropped
    assert raw(table, SK, "TAG#post:a") is None
    assert raw(table, SK, "TAG#post:b") is not None
    # Half a retention later the entries would end before the new META: written again.
    later = 1000.0 + DEFAULT_RETENTION_SECONDS + 1
    store._clock.set(later)  # type: ignore[attr-defined]
    commit(store, rec(later, frozenset({"post:b"})))
    entry = raw(table, SK, PATH_PK)
    assert entry is not None
    assert int(entry["ttl"]["N"]) == int(later) + 2 * DEFAULT_RETENTION_SECONDS


def test_a_static_page_has_no_ttl_anywhere(table: DdbTable) -> None:  # noqa: F811
    store = make(table)
    commit(store, rec(static=True, revalidate=STATIC_REVALIDATE))
    meta, entry = raw(table, "META", META_PK), raw(table, SK, PATH_PK)
    assert meta is not None
    assert entry is not None
    assert "ttl" not in meta
    assert "ttl" not in entry
    assert meta["static"] == {"BOOL": True}
    got = store.get(KEY)
    assert got is not None
    assert got.static
    assert got.is_fresh(1000.0 + 365 * 86_400)


def test_a_canonical_reader_sees_purged_entries_as_stale(table: DdbTable) -> None:  # noqa: F811
    store = make(table)
    commit(store, rec())
    other = "default::site.example/posts/b"
    commit(store, CacheRecord(other, f"isr/{'a' * 32}/{'c' * 64}.html", 1000.0, 60))
    item = raw(table, "META", META_PK)
    assert item is not None
    assert canonical_fresh(item, 1001.0)
    assert store.invalidate_path("/posts/a") == [KEY]
    item = raw(table, "META", META_PK)
    assert item is not None
    assert not canonical_fresh(item, 1001.0)
    plain = raw(table, "META", f"CACHE#{cache_key_hash(other)}")
    assert plain is not None
    assert canonical_fresh(plain, 1001.0)
    commit_again = make(table, FakeClock(1002.0))
    commit(commit_again, rec(1002.0))
    assert commit_again.invalidate_tag("post:a") == [KEY]
    item = raw(table, "META", META_PK)
    assert item is not None
    assert not canonical_fresh(item, 1003.0)


@pytest.mark.ddb_local
def test_1000_tagged_variants_purged_at_once_and_each_regenerated_once(
    ddb_local_table: DdbTable,
) -> None:
    clock = FakeClock(1_000_000.0)
    meta = DynamoDbMetaStore(ddb_local_table.name, client=ddb_local_table.client, clock=clock)
    store = Store(meta, MemoryHtmlStore())
    app = FaceApp(store=store, clock=clock)
    renders: dict[str, int] = {}

    @app.face(
        "/items/{n}",
        revalidate=3600,
        vary_query=["page"],
        vary_cookies=["lang"],
        vary_headers=["accept-language"],
        tags=["catalogue"],
    )
    def item(request: FaceRequest) -> FaceResult:
        name = f"{request.path}?{request.raw_query}#{request.cookies}{request.headers}"
        renders[name] = renders.get(name, 0) + 1
        return FaceResult(body=f"<p>{request.params['n']}</p>", tags=[f"n{request.params['n']}"])

    variants: list[dict[str, Any]] = [
        {},
        {"query": "page=2"},
        {"cookies": ["lang=fr"]},
        {"headers": {"accept-language": "de", "host": "other.example"}},
    ]
    requests = [(f"/items/{n}", v) for n in range(250) for v in variants]

    def states() -> list[str]:
        return [
            app(make_event(path, **v), FakeContext())["headers"]["x-isr-cache"]
            for path, v in requests
        ]

    assert set(states()) == {"miss"}
    clock.advance(1)
    with calls(ddb_local_table) as seen:
        result = invalidate_tags(["catalogue"], store=store)
    assert dict(result) == {"catalogue": 1000}
    assert len(seen) / 1000 <= 1.1  # batched reads + one write per entry
    assert seen.count("UpdateItem") == 1000
    clock.advance(1)
    assert set(states()) == {"miss"}  # every entry stale: its next request regenerates it
    assert set(states()) == {"hit"}
    assert len(renders) == 1000
    assert set(renders.values()) == {2}  # rendered once before, once after the purge
