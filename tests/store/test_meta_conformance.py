"""The MetaStore contract, run identically on memory, SQLite, moto DynamoDB, DynamoDB Local."""

from __future__ import annotations

import sqlite3

import pytest

from lambda_isr.errors import LeaseError, LeaseNotOwnedError, StaleGenerationError
from lambda_isr.store.contract import CacheRecord, Lease, LeaseHeld, MetaStore, PassMarker
from lambda_isr.store.keys import partition_key
from lambda_isr.store.sqlite import SqliteMetaStore
from lambda_isr.testing import FakeClock
from tests.store.conftest import MetaHarness

KEY = "default::/products/{id}?id=42"


def record(
    key: str = KEY, generated_at: float = 1000.0, revalidate: int = 60, **kw: object
) -> CacheRecord:
    return CacheRecord(
        cache_key=key,
        html_key=f"isr/{'a' * 32}/{'b' * 64}.html",
        generated_at=generated_at,
        revalidate_seconds=revalidate,
        **kw,  # type: ignore[arg-type]
    )


def acquire(store: MetaStore, key: str = KEY, duration: float = 30) -> Lease:
    lease = store.try_acquire_lease(key, duration)
    assert isinstance(lease, Lease), lease
    return lease


def test_empty_store_has_no_record(meta_harness: MetaHarness) -> None:
    store = meta_harness.make()
    assert store.get(KEY) is None
    assert store.invalidate(KEY) is False


def test_two_contenders(meta_harness: MetaHarness) -> None:
    """A acquires at 1000; B is held; B takes over at 2000; A's refresh/commit rejected."""
    clock = meta_harness.clock
    a, b = meta_harness.make(tokens="A"), meta_harness.make(tokens="B")
    lease_a = acquire(a)
    assert lease_a.token == "A-1"
    assert lease_a.expires_at == 1030
    held = b.try_acquire_lease(KEY, 30)
    assert held == LeaseHeld(KEY, 1030.0)
    clock.set(2000.0)
    lease_b = acquire(b)
    assert lease_b.token.startswith("B-")
    with pytest.raises(LeaseNotOwnedError):
        a.refresh_lease(lease_a, 30)
    with pytest.raises(LeaseNotOwnedError):
        a.commit_generation(lease_a, record(generated_at=2000.0))
    assert a.get(KEY) is None
    b.commit_generation(lease_b, record(generated_at=2000.0))
    got = a.get(KEY)
    assert got is not None
    assert got.generated_at == 2000.0
    # The commit deleted the lease: the key is free again at once.
    assert isinstance(a.try_acquire_lease(KEY, 30), Lease)


def test_lease_held_until_exactly_its_expiry(meta_harness: MetaHarness) -> None:
    clock = meta_harness.clock
    a, b = meta_harness.make(tokens="A"), meta_harness.make(tokens="B")
    acquire(a, duration=30)
    clock.set(1029.999)
    assert b.try_acquire_lease(KEY, 30) == LeaseHeld(KEY, 1030.0)
    clock.set(1030.0)
    lease = acquire(b, duration=30)
    assert lease.expires_at == 1060


def test_fractional_time_rounding(meta_harness: MetaHarness) -> None:
    """expires_at = ceil(now + duration); conditions compare against floor(now)."""
    clock = meta_harness.clock
    clock.set(1000.2)
    store = meta_harness.make()
    lease = acquire(store, duration=29.5)
    assert lease.expires_at == 1030  # ceil(1029.7)
    assert lease.acquired_at == 1000.2
    clock.set(1030.7)  # floor(now) = 1030 >= expiry: the lease is gone
    with pytest.raises(LeaseNotOwnedError):
        store.refresh_lease(lease, 10)
    clock.set(1040.5)
    second = acquire(store, duration=0.2)
    assert second.expires_at == 1041  # ceil(1040.7)
    clock.set(1040.9)  # floor(1040.9) = 1040 < 1041: still held
    refreshed = store.refresh_lease(second, 0.5)
    assert refreshed.expires_at == 1042  # ceil(1041.4)
    assert refreshed.token == second.token


def test_refresh_extends_and_keeps_others_out(meta_harness: MetaHarness) -> None:
    clock = meta_harness.clock
    a, b = meta_harness.make(tokens="A"), meta_harness.make(tokens="B")
    lease = acquire(a)
    clock.set(1020.0)
    lease = a.refresh_lease(lease, 30)
    assert lease.expires_at == 1050
    clock.set(1040.0)
    assert b.try_acquire_lease(KEY, 30) == LeaseHeld(KEY, 1050.0)
    a.commit_generation(lease, record(generated_at=1040.0))


def test_wrong_token_cannot_refresh_commit_or_release(meta_harness: MetaHarness) -> None:
    a = meta_harness.make(tokens="A")
    lease = acquire(a)
    forged = Lease(KEY, "not-the-token", lease.expires_at, lease.acquired_at)
    with pytest.raises(LeaseNotOwnedError):
        a.refresh_lease(forged, 30)
    with pytest.raises(LeaseNotOwnedError):
        a.commit_generation(forged, record())
    a.release_lease(forged)  # best effort: no error, and the real lease survives
    assert isinstance(a.try_acquire_lease(KEY, 30), LeaseHeld)
    a.commit_generation(lease, record())


def test_commit_without_any_lease_is_rejected(meta_harness: MetaHarness) -> None:
    store = meta_harness.make()
    with pytest.raises(LeaseNotOwnedError):
        store.commit_generation(Lease(KEY, "tok-1", 2000.0, 1000.0), record())
    assert store.get(KEY) is None


def test_release_is_best_effort(meta_harness: MetaHarness) -> None:
    clock = meta_harness.clock
    a, b = meta_harness.make(tokens="A"), meta_harness.make(tokens="B")
    lease = acquire(a)
    a.release_lease(lease)
    a.release_lease(lease)  # twice: still fine
    lease_b = acquire(b)  # released: free at once, no need to wait for expiry
    a.release_lease(lease)  # a stale release must not delete B's lease
    assert isinstance(a.try_acquire_lease(KEY, 30), LeaseHeld)
    clock.set(5000.0)
    b.release_lease(lease_b)  # expired long ago: no error


def test_commit_round_trip(meta_harness: MetaHarness) -> None:
    store = meta_harness.make()
    rec = record(
        generated_at=1000.25,
        revalidate=120,
        etag='"abc"',
        status=404,
        content_type="text/html; charset=utf-8",
        headers=(("cache-control", "public"), ("link", "</a.css>; rel=preload")),
        tags=frozenset({"product:42", "catalog"}),
        content_hash="c" * 64,
        size=1234,
        route="/posts/{slug}",
    )
    store.commit_generation(acquire(store), rec)
    assert store.get(KEY) == rec
    assert rec.is_fresh(1120.0)
    assert not rec.is_fresh(1120.25)


def test_commit_defaults_round_trip(meta_harness: MetaHarness) -> None:
    store = meta_harness.make()
    rec = record()
    store.commit_generation(acquire(store), rec)
    assert store.get(KEY) == rec


def test_generation_fencing(meta_harness: MetaHarness) -> None:
    clock = meta_harness.clock
    clock.set(1500.5)  # generations are render start times: never ahead of the clock
    store = meta_harness.make()
    store.commit_generation(acquire(store), record(generated_at=1500.5))
    lease = acquire(store)
    with pytest.raises(StaleGenerationError):
        store.commit_generation(lease, record(generated_at=1500.25))
    with pytest.raises(StaleGenerationError):
        store.commit_generation(lease, record(generated_at=1400.0))
    got = store.get(KEY)
    assert got is not None
    assert got.generated_at == 1500.5
    # The rejected commit left the lease in place; the same generation may be re-committed.
    store.commit_generation(lease, record(generated_at=1500.5, revalidate=5))
    clock.set(1600.0)
    store.commit_generation(acquire(store), record(generated_at=1600.0))
    newest = store.get(KEY)
    assert newest is not None
    assert newest.generated_at == 1600.0


def test_a_fenced_commit_is_its_own_kind_of_lease_error() -> None:
    # A fenced-off commit is its own kind, beside a lost lease (never caught as one).
    assert not issubclass(StaleGenerationError, LeaseNotOwnedError)
    assert issubclass(StaleGenerationError, LeaseError)


def test_soft_purge(meta_harness: MetaHarness) -> None:
    clock = meta_harness.clock
    store = meta_harness.make()
    store.commit_generation(acquire(store), record(generated_at=1000.0, revalidate=60))
    clock.set(1010.0)
    assert store.invalidate(KEY) is True
    purged = store.get(KEY)
    assert purged is not None
    assert purged.revalidate_seconds == 60  # the policy is kept
    assert purged.invalidated_at == 1010.0
    assert not purged.is_fresh(1010.0)
    assert purged.html_key == record().html_key  # still servable as stale
    clock.set(1020.0)
    assert store.invalidate(KEY) is True  # idempotent; the latest purge time is kept
    again = store.get(KEY)
    assert again is not None
    assert again.invalidated_at == 1020.0
    clock.set(1015.0)  # a purge with an earlier clock (skew) never moves it back
    assert store.invalidate(KEY) is True
    skewed = store.get(KEY)
    assert skewed is not None
    assert skewed.invalidated_at == 1020.0
    clock.set(1021.0)
    store.commit_generation(acquire(store), record(generated_at=1021.0, revalidate=60))
    fresh = store.get(KEY)
    assert fresh is not None
    assert fresh.invalidated_at is None
    assert fresh.is_fresh(1030.0)


def test_purge_during_a_render_is_not_undone(meta_harness: MetaHarness) -> None:
    """A render that started at or before a purge read pre-purge data: its commit is stale."""
    clock = meta_harness.clock
    store = meta_harness.make()
    store.commit_generation(acquire(store), record(generated_at=1000.0, revalidate=60))
    clock.set(1005.0)
    lease = acquire(store)
    started = clock.now()  # generated_at = when the render started
    clock.set(1006.0)
    assert store.invalidate(KEY) is True
    with pytest.raises(StaleGenerationError):
        store.commit_generation(lease, record(generated_at=started, revalidate=60))
    purged = store.get(KEY)
    assert purged is not None
    assert purged.generated_at == 1000.0  # the old generation, still servable as stale
    assert purged.html_key == record().html_key
    assert purged.invalidated_at == 1006.0
    assert not purged.is_fresh(1006.0)
    store.release_lease(lease)  # what the engine does with a lost commit

    # Started exactly at the purge: it may have read pre-purge data too.
    lease = acquire(store)
    with pytest.raises(StaleGenerationError):
        store.commit_generation(lease, record(generated_at=1006.0, revalidate=60))
    still = store.get(KEY)
    assert still is not None
    assert still.invalidated_at == 1006.0
    store.release_lease(lease)

    # Started after the purge: commits and clears it.
    clock.set(1008.0)
    store.commit_generation(acquire(store), record(generated_at=1007.0, revalidate=60))
    fresh = store.get(KEY)
    assert fresh is not None
    assert fresh.generated_at == 1007.0
    assert fresh.invalidated_at is None
    assert fresh.is_fresh(1008.0)


def test_purge_fence_is_exact_below_a_millisecond(meta_harness: MetaHarness) -> None:
    clock = meta_harness.clock
    store = meta_harness.make()
    store.commit_generation(acquire(store), record(generated_at=1000.0))
    clock.set(1006.2503)
    assert store.invalidate(KEY) is True
    lease = acquire(store)
    with pytest.raises(StaleGenerationError):  # started 0.1 ms before the purge
        store.commit_generation(lease, record(generated_at=1006.2502))
    store.commit_generation(lease, record(generated_at=1006.2504))  # 0.1 ms after it
    fresh = store.get(KEY)
    assert fresh is not None
    assert fresh.invalidated_at is None


def test_a_second_purge_during_a_render_is_not_undone(meta_harness: MetaHarness) -> None:
    """A render started after one purge but before the next must not clear the next."""
    clock = meta_harness.clock
    store = meta_harness.make()
    store.commit_generation(acquire(store), record(generated_at=1000.0))
    clock.set(1006.0)
    assert store.invalidate(KEY) is True
    clock.set(1010.0)
    lease = acquire(store)
    clock.set(1012.0)
    assert store.invalidate(KEY) is True
    with pytest.raises(StaleGenerationError):
        store.commit_generation(lease, record(generated_at=1010.0))
    purged = store.get(KEY)
    assert purged is not None
    assert purged.invalidated_at == 1012.0
    assert purged.generated_at == 1000.0


def test_keys_are_independent(meta_harness: MetaHarness) -> None:
    store = meta_harness.make()
    lease = acquire(store, "k1")
    assert isinstance(store.try_acquire_lease("k2", 30), Lease)
    store.commit_generation(lease, record("k1"))
    assert store.get("k2") is None
    assert store.get("k1") == record("k1")


@pytest.mark.parametrize(
    "key",
    [
        "x" * 10_240,
        "nul\x00in\x00key",
        "emoji \U0001f600 / \u00e9\u00e8 / \u4e2d\u6587",
        "",
        "CACHE#META",
        "white space\r\n\t",
    ],
    ids=["10KB", "nul", "emoji", "empty", "hashes", "whitespace"],
)
def test_any_key_works(meta_harness: MetaHarness, key: str) -> None:
    store = meta_harness.make()
    lease = acquire(store, key)
    assert isinstance(store.try_acquire_lease(key, 30), LeaseHeld)
    store.commit_generation(lease, record(key))
    assert store.get(key) == record(key)
    assert store.invalidate(key) is True


def test_a_generation_from_a_clock_running_ahead_is_replaced(meta_harness: MetaHarness) -> None:
    """Issue 16, item 10: a record generated beyond the tolerance in the committer's future
    (its writer's clock ran ahead) is stale for every reader, and the next commit replaces it;
    within the tolerance it still fences."""
    ahead = meta_harness.make(clock=FakeClock(1300.0), tokens="AHEAD")
    ahead.commit_generation(acquire(ahead, duration=4), record(generated_at=1300.0))
    store = meta_harness.make()  # its clock says 1000
    stored = store.get(KEY)
    assert stored is not None
    assert not stored.is_fresh(1000.0)
    store.commit_generation(acquire(store), record(generated_at=1000.0))
    replaced = store.get(KEY)
    assert replaced is not None
    assert replaced.generated_at == 1000.0
    near = meta_harness.make(clock=FakeClock(1004.0), tokens="NEAR")
    near.commit_generation(acquire(near, duration=4), record(generated_at=1004.9))
    with pytest.raises(StaleGenerationError):  # 4.9 s ahead: within the tolerance
        store.commit_generation(acquire(store), record(generated_at=1000.5))


# --- hit-for-pass (issue 16, item 1): the marker on the LOCK item, on every backend --------


def test_a_pass_marker_answers_held_passing_until_it_ends(meta_harness: MetaHarness) -> None:
    clock = meta_harness.clock
    a, b = meta_harness.make(tokens="A"), meta_harness.make(tokens="B")
    lease = acquire(a, duration=4)
    assert isinstance(a, PassMarker)
    clock.set(1000.4)
    assert a.mark_uncacheable(lease, 29.5) is True
    held = b.try_acquire_lease(KEY, 4)
    assert isinstance(held, LeaseHeld)
    assert held.pass_until == 1030  # ceil(1000.4 + 29.5)
    assert held.passing(1029.9)
    clock.set(1029.9)  # floor(now) = 1029 < 1030: still passing
    assert isinstance(b.try_acquire_lease(KEY, 4), LeaseHeld)
    clock.set(1030.0)
    lease_b = acquire(b, duration=4)  # the marker ended: the lease is free again
    b.release_lease(lease_b)
    fresh = a.try_acquire_lease(KEY, 4)
    assert isinstance(fresh, Lease)  # released: no marker left behind


def test_a_pass_marker_ends_the_lease_it_replaces(meta_harness: MetaHarness) -> None:
    a = meta_harness.make(tokens="A")
    lease = acquire(a, duration=30)
    assert isinstance(a, PassMarker)
    assert a.mark_uncacheable(lease, 30) is True
    with pytest.raises(LeaseNotOwnedError):
        a.refresh_lease(lease, 30)
    with pytest.raises(LeaseNotOwnedError):
        a.commit_generation(lease, record())
    assert a.get(KEY) is None


def test_a_pass_marker_needs_the_lease(meta_harness: MetaHarness) -> None:
    clock = meta_harness.clock
    a, b = meta_harness.make(tokens="A"), meta_harness.make(tokens="B")
    assert isinstance(a, PassMarker)
    assert a.mark_uncacheable(Lease(KEY, "nobody", 1030.0, 1000.0), 30) is False  # no lease
    lease_a = acquire(a, duration=4)
    clock.set(1010.0)
    lease_b = acquire(b, duration=30)  # A's lease expired and B took it over
    assert a.mark_uncacheable(lease_a, 30) is False  # never clobbers another holder
    held = a.try_acquire_lease(KEY, 4)
    assert held == LeaseHeld(KEY, lease_b.expires_at)  # B's lease, no marker
    b.commit_generation(lease_b, record(generated_at=1010.0))


def test_a_canonical_acquirer_ignores_the_pass_marker(meta_harness: MetaHarness) -> None:
    """The marker is additive: TableTheory's LeaseManager condition takes the lock at once, and
    its put replaces the item (the marker ends)."""
    table = meta_harness.table
    if table is None:
        pytest.skip("the canonical condition is DynamoDB's")
    a = meta_harness.make(tokens="A")
    assert isinstance(a, PassMarker)
    assert a.mark_uncacheable(acquire(a), 30) is True
    lock = {"pk": {"S": partition_key(KEY)}, "sk": {"S": "LOCK"}}
    item = table.client.get_item(TableName=table.name, Key=lock)["Item"]
    assert item["pass_until"] == {"N": "1030"}
    assert int(item["lease_expires_at"]["N"]) <= 1000  # the lease itself is over
    table.client.put_item(
        TableName=table.name,
        Item={**lock, "lease_token": {"S": "ts"}, "lease_expires_at": {"N": "1030"}},
        ConditionExpression="attribute_not_exists(pk) OR lease_expires_at <= :now",
        ExpressionAttributeValues={":now": {"N": "1000"}},
    )
    assert a.try_acquire_lease(KEY, 30) == LeaseHeld(KEY, 1030.0)  # its lease, no marker


# --- a header no response may carry (issue 16, item 8) ------------------------------------


def test_a_stored_header_with_cr_or_lf_is_a_miss(meta_harness: MetaHarness) -> None:
    store = meta_harness.make()
    store.commit_generation(acquire(store), record(headers=(("x-a", "1"),)))
    if meta_harness.name == "memory":
        pytest.skip("the memory store keeps records, not a stored form another writer can edit")
    if meta_harness.table is not None:
        table = meta_harness.table
        table.client.update_item(
            TableName=table.name,
            Key={"pk": {"S": partition_key(KEY)}, "sk": {"S": "META"}},
            UpdateExpression="SET headers = :h",
            ExpressionAttributeValues={
                ":h": {"L": [{"L": [{"S": "x-a"}, {"S": "1\r\nset-cookie: evil=1"}]}]}
            },
        )
    else:
        assert isinstance(store, SqliteMetaStore)
        with sqlite3.connect(store.path) as conn:
            conn.execute("UPDATE meta SET headers = ?", ('[["x-a", "1\\r\\nset-cookie: x=1"]]',))
    assert store.get(KEY) is None
