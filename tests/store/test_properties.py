"""Property tests: key derivation and record round-trips through each serialisation."""

from __future__ import annotations

import string
import tempfile

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lambda_isr.store import _ddb_item
from lambda_isr.store.contract import CacheRecord, Lease
from lambda_isr.store.keys import (
    cache_key_hash,
    check_object_key,
    content_digest,
    html_object_key,
    partition_key,
)
from lambda_isr.store.sqlite import SqliteMetaStore
from lambda_isr.testing import FakeClock

header_names = st.text(string.ascii_lowercase + "-", min_size=1, max_size=20)
header_values = st.text(st.characters(min_codepoint=32, max_codepoint=0x2FFF), max_size=40)
records = st.builds(
    CacheRecord,
    cache_key=st.text(max_size=300),
    html_key=st.from_regex(r"isr/[0-9a-f]{32}/[0-9a-f]{64}\.html", fullmatch=True),
    generated_at=st.integers(0, 2**41).map(lambda ms: ms / 1000),
    revalidate_seconds=st.integers(0, 10**8),
    etag=st.none() | st.text(min_size=1, max_size=40),
    status=st.integers(100, 599),
    content_type=st.text(st.characters(exclude_characters="\r\n\x00"), min_size=1, max_size=60),
    headers=st.lists(st.tuples(header_names, header_values), max_size=5).map(tuple),
    tags=st.frozensets(st.text(min_size=1, max_size=20), max_size=5),
    content_hash=st.none() | st.from_regex(r"[0-9a-f]{64}", fullmatch=True),
    size=st.none() | st.integers(0, 2**40),
)


@given(st.text(), st.none() | st.text(string.ascii_letters + "-", min_size=1, max_size=10))
def test_partition_key_is_bounded_and_stable(key: str, tenant: str | None) -> None:
    pk = partition_key(key, tenant=tenant)
    assert pk == partition_key(key, tenant=tenant)
    assert pk.endswith(f"CACHE#{cache_key_hash(key)}")
    assert len(pk) <= 6 + 64 + (len(tenant) + 8 if tenant else 0)
    assert partition_key(key, raw=True) == f"CACHE#{key}"


@given(st.text(), st.binary(max_size=64), st.integers(100, 599))
def test_object_keys_are_always_valid(key: str, body: bytes, status: int) -> None:
    digest = content_digest(body, status=status, content_type="text/html", headers=())
    object_key = html_object_key("isr", key, digest)
    assert check_object_key(object_key) == object_key


@given(records)
def test_meta_item_round_trip(record: CacheRecord) -> None:
    item = _ddb_item.encode_meta("CACHE#x", record, retention_seconds=86_400)
    assert _ddb_item.decode_meta(record.cache_key, item) == record
    seconds, _ = _ddb_item.split_time(record.generated_at)
    assert item["generated_at"] == {"N": str(seconds)}
    assert seconds <= record.generated_at < seconds + 1


@settings(max_examples=40, suppress_health_check=[HealthCheck.too_slow])
@given(records)
def test_sqlite_round_trip(record: CacheRecord) -> None:
    with tempfile.TemporaryDirectory() as d:
        store = SqliteMetaStore(f"{d}/m.sqlite3", clock=FakeClock(0.0))
        lease = store.try_acquire_lease(record.cache_key, 30)
        assert isinstance(lease, Lease)
        store.commit_generation(lease, record)
        assert store.get(record.cache_key) == record
        store.close()
