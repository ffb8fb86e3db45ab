"""DynamoDB backend specifics: raw items in the canonical schema, error translation."""

from __future__ import annotations

import logging
import math
from typing import Any

import pytest

from lambda_isr.errors import (
    ConfigError,
    InvalidKeyError,
    LeaseNotOwnedError,
    StaleGenerationError,
)
from lambda_isr.store.contract import CacheRecord, Lease, LeaseHeld
from lambda_isr.store.dynamodb import DynamoDbMetaStore
from lambda_isr.store.keys import cache_key_hash
from lambda_isr.testing import FakeClock
from tests.conftest import DdbTable
from tests.store.conftest import counting_tokens

KEY = "default::/p?id=1"
PK = f"CACHE#{cache_key_hash(KEY)}"
TS_S3_KEY = "isr/0123456789abcdef01234567/1700000000123-6f1c3e0a-2b1d-4e0e-9d38-1c2f3a4b5c6d.html"


@pytest.fixture(params=["moto", "ddb_local"])
def table(request: pytest.FixtureRequest) -> DdbTable:
    name = "moto_ddb_table" if request.param == "moto" else "ddb_local_table"
    fixture: DdbTable = request.getfixturevalue(name)
    return fixture


def make(table: DdbTable, clock: FakeClock | None = None, **options: Any) -> DynamoDbMetaStore:
    return DynamoDbMetaStore(
        table.name,
        client=table.client,
        clock=clock or FakeClock(1000.0),
        token_source=counting_tokens("tok"),
        **options,
    )


def raw(table: DdbTable, sk: str, pk: str = PK) -> dict[str, Any] | None:
    item = table.client.get_item(
        TableName=table.name, Key={"pk": {"S": pk}, "sk": {"S": sk}}, ConsistentRead=True
    ).get("Item")
    return dict(item) if item is not None else None


def canonical_fresh(item: dict[str, Any], now: float) -> bool:
    """TableTheory's rule, on the raw item: generated_at + revalidate_seconds > now."""
    return int(item["generated_at"]["N"]) + int(item["revalidate_seconds"]["N"]) > now


def test_exact_acquire_request(table: DdbTable) -> None:
    store = make(table, lease_ttl_buffer=10)
    lease = store.try_acquire_lease(KEY, 30)
    assert isinstance(lease, Lease)
    assert raw(table, "LOCK") == {
        "pk": {"S": PK},
        "sk": {"S": "LOCK"},
        "lease_token": {"S": "tok-1"},
        "lease_expires_at": {"N": "1030"},
        "ttl": {"N": "1040"},
    }
    store._clock.set(1010.4)  # type: ignore[attr-defined]
    store.refresh_lease(lease, 30)
    item = raw(table, "LOCK")
    assert item is not None
    assert (item["lease_expires_at"], item["ttl"]) == ({"N": "1041"}, {"N": "1051"})


def test_held_reports_holder_expiry_without_a_read(table: DdbTable) -> None:
    store = make(table)
    assert isinstance(store.try_acquire_lease(KEY, 30), Lease)
    calls: list[str] = []
    table.client.meta.events.register(
        "before-call.dynamodb.*", lambda model, **_: calls.append(model.name)
    )
    assert store.try_acquire_lease(KEY, 30) == LeaseHeld(KEY, 1030.0)
    assert calls == ["PutItem"]


def test_meta_item_is_canonical(table: DdbTable) -> None:
    store = make(table, retention_seconds=86_400)
    rec = CacheRecord(
        KEY,
        TS_S3_KEY,
        1000.75,
        60,
        etag='"e"',
        headers=(("cache-control", "public"),),
        tags=frozenset({"t1", "t2"}),
        content_hash="c" * 64,
        size=10,
    )
    lease = store.try_acquire_lease(KEY, 30)
    assert isinstance(lease, Lease)
    store.commit_generation(lease, rec)
    item = raw(table, "META")
    assert item is not None
    assert item["s3_key"] == {"S": TS_S3_KEY}
    assert item["generated_at"] == {"N": "1000"}  # integer epoch seconds (floor)
    assert item["revalidate_seconds"] == {"N": "60"}
    assert item["etag"] == {"S": '"e"'}
    assert item["ttl"] == {"N": str(1000 + 86_400)}
    assert item["generated_at_ms"] == {"N": "1000750"}
    assert item["cache_key"] == {"S": KEY}
    assert item["status"] == {"N": "200"}
    assert item["content_type"] == {"S": "text/html; charset=utf-8"}
    assert item["headers"] == {"L": [{"L": [{"S": "cache-control"}, {"S": "public"}]}]}
    assert set(item["tags"]["SS"]) == {"t1", "t2"}
    assert raw(table, "LOCK") is None  # the commit deleted the lease
    assert store.get(KEY) == rec


def test_no_tags_attribute_when_empty(table: DdbTable) -> None:
    store = make(table)
    lease = store.try_acquire_lease(KEY, 30)
    assert isinstance(lease, Lease)
    store.commit_generation(lease, CacheRecord(KEY, TS_S3_KEY, 1000.0, 60))
    item = raw(table, "META")
    assert item is not None
    assert "tags" not in item
    assert "etag" not in item


@pytest.mark.parametrize("now", [1000.0, 1030.0, 1059.0, 1060.0, 1061.0, 5000.0])
def test_canonical_reader_agrees_including_after_invalidate(table: DdbTable, now: float) -> None:
    clock = FakeClock(1000.0)
    store = make(table, clock=clock)
    lease = store.try_acquire_lease(KEY, 30)
    assert isinstance(lease, Lease)
    store.commit_generation(lease, CacheRecord(KEY, TS_S3_KEY, 1000.0, 60))
    item, ours = raw(table, "META"), store.get(KEY)
    assert item is not None
    assert ours is not None
    assert canonical_fresh(item, now) == ours.is_fresh(now)
    clock.set(1020.0)
    assert store.invalidate(KEY)
    item, ours = raw(table, "META"), store.get(KEY)
    assert item is not None
    assert ours is not None
    assert canonical_fresh(item, now) is False
    assert ours.is_fresh(now) is False
    assert ours.revalidate_seconds == 60
    assert ours.invalidated_at == 1020.0
    assert item["revalidate_seconds"] == {"N": "0"}


def test_canonical_reader_is_never_fresher_with_subsecond_times(table: DdbTable) -> None:
    store = make(table)
    lease = store.try_acquire_lease(KEY, 30)
    assert isinstance(lease, Lease)
    store.commit_generation(lease, CacheRecord(KEY, TS_S3_KEY, 1000.6, 60))
    item, ours = raw(table, "META"), store.get(KEY)
    assert item is not None
    assert ours is not None
    for tenth in range(10_550, 10_650):
        now = tenth / 10
        if canonical_fresh(item, now):
            assert ours.is_fresh(now)
        if not math.floor(1000.6) + 60 <= now < 1060.6:  # outside the sub-second window
            assert canonical_fresh(item, now) == ours.is_fresh(now)


def test_canonical_writer_item_is_readable(table: DdbTable) -> None:
    """A TableTheory/FaceTheory writer stores only canonical attributes."""
    table.client.put_item(
        TableName=table.name,
        Item={
            "pk": {"S": PK},
            "sk": {"S": "META"},
            "s3_key": {"S": TS_S3_KEY},
            "generated_at": {"N": "1700000000"},
            "revalidate_seconds": {"N": "300"},
            "ttl": {"N": "1700086400"},
        },
    )
    got = make(table).get(KEY)
    assert got == CacheRecord(KEY, TS_S3_KEY, 1_700_000_000.0, 300)
    assert (got.status, got.content_type, got.etag) == (200, "text/html; charset=utf-8", None)


@pytest.mark.parametrize(
    "item",
    [
        {"generated_at": {"N": "1"}, "revalidate_seconds": {"N": "1"}},
        {"s3_key": {"N": "1"}, "generated_at": {"N": "1"}, "revalidate_seconds": {"N": "1"}},
        {
            "s3_key": {"S": "k"},
            "generated_at": {"S": "yesterday"},
            "revalidate_seconds": {"N": "1"},
        },
        {"s3_key": {"S": "k"}, "generated_at": {"N": "1"}, "revalidate_seconds": {"N": "1.5"}},
        {"s3_key": {"S": "k"}, "generated_at": {"N": "1"}},
        {
            "s3_key": {"S": "k"},
            "generated_at": {"N": "1"},
            "revalidate_seconds": {"N": "1"},
            "status": {"S": "200"},
        },
        {
            "s3_key": {"S": "k"},
            "generated_at": {"N": "1"},
            "revalidate_seconds": {"N": "1"},
            "status": {"N": "999"},
        },
        {
            "s3_key": {"S": "k"},
            "generated_at": {"N": "1"},
            "revalidate_seconds": {"N": "1"},
            "headers": {"M": {}},
        },
        {
            "s3_key": {"S": "k"},
            "generated_at": {"N": "1"},
            "revalidate_seconds": {"N": "1"},
            "headers": {"L": [{"L": [{"S": "only-name"}]}]},
        },
    ],
    ids=[
        "no-s3_key",
        "s3_key-N",
        "gen-S",
        "revalidate-fraction",
        "no-revalidate",
        "status-S",
        "status-range",
        "headers-M",
        "headers-short",
    ],
)
def test_malformed_meta_is_a_miss_with_one_warning(
    table: DdbTable, item: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    table.client.put_item(TableName=table.name, Item={"pk": {"S": PK}, "sk": {"S": "META"}, **item})
    with caplog.at_level(logging.WARNING, logger="lambda_isr.store"):
        assert make(table).get(KEY) is None
    warnings = [r for r in caplog.records if r.name == "lambda_isr.store"]
    assert len(warnings) == 1
    assert warnings[0].levelno == logging.WARNING


def test_partition_key_options(table: DdbTable) -> None:
    cases: list[tuple[dict[str, Any], str]] = [
        ({"tenant": "acme"}, f"TENANT#acme#CACHE#{cache_key_hash(KEY)}"),
        ({"raw_keys": True}, f"CACHE#{KEY}"),
    ]
    for options, pk in cases:
        store = make(table, **options)
        assert isinstance(store.try_acquire_lease(KEY, 30), Lease)
        assert raw(table, "LOCK", pk=pk) is not None
    with pytest.raises(InvalidKeyError):
        make(table, raw_keys=True).try_acquire_lease("x" * 3000, 30)


def test_stale_and_lost_lease_reasons(table: DdbTable) -> None:
    clock = FakeClock(1000.0)
    store = make(table, clock=clock)
    lease = store.try_acquire_lease(KEY, 30)
    assert isinstance(lease, Lease)
    store.commit_generation(lease, CacheRecord(KEY, TS_S3_KEY, 1000.0, 60))
    lease = store.try_acquire_lease(KEY, 30)
    assert isinstance(lease, Lease)
    with pytest.raises(StaleGenerationError):
        store.commit_generation(lease, CacheRecord(KEY, TS_S3_KEY, 999.0, 60))
    clock.set(1030.0)  # expired: a lost lease wins over a stale generation
    with pytest.raises(LeaseNotOwnedError) as info:
        store.commit_generation(lease, CacheRecord(KEY, TS_S3_KEY, 999.0, 60))
    assert type(info.value) is LeaseNotOwnedError


def test_bad_config() -> None:
    with pytest.raises(ConfigError, match="table name"):
        DynamoDbMetaStore("", client=object())  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="retention"):
        DynamoDbMetaStore("tbl", client=object(), retention_seconds=0)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="lease_ttl_buffer"):
        DynamoDbMetaStore("tbl", client=object(), lease_ttl_buffer=-1)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="timeout"):
        DynamoDbMetaStore("tbl", client=object(), timeout=0)  # type: ignore[arg-type]


def test_purge_fence_counts_only_an_effective_purge(table: DdbTable) -> None:
    """As in decode_meta: invalidated_at fences commits only while revalidate_seconds is 0."""
    clock = FakeClock(1000.0)
    store = make(table, clock=clock)
    lease = store.try_acquire_lease(KEY, 30)
    assert isinstance(lease, Lease)
    store.commit_generation(lease, CacheRecord(KEY, TS_S3_KEY, 1000.0, 60))
    clock.set(1010.25)
    assert store.invalidate(KEY)
    item = raw(table, "META")
    assert item is not None
    assert item["invalidated_at"] == {"N": "1010.25"}
    lease = store.try_acquire_lease(KEY, 30)
    assert isinstance(lease, Lease)
    with pytest.raises(StaleGenerationError):
        store.commit_generation(lease, CacheRecord(KEY, TS_S3_KEY, 1005.0, 60))
    # A canonical writer restores the policy: the leftover attribute is no purge any more.
    table.client.update_item(
        TableName=table.name,
        Key={"pk": {"S": PK}, "sk": {"S": "META"}},
        UpdateExpression="SET revalidate_seconds = :r",
        ExpressionAttributeValues={":r": {"N": "60"}},
    )
    restored = store.get(KEY)
    assert restored is not None
    assert restored.invalidated_at is None
    store.commit_generation(lease, CacheRecord(KEY, TS_S3_KEY, 1005.0, 60))
    item = raw(table, "META")
    assert item is not None
    assert "invalidated_at" not in item
    assert item["generated_at"] == {"N": "1005"}
