"""Backend harnesses: the one conformance suite runs over every MetaStore and HtmlStore."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from lambda_isr.store.contract import HtmlStore, MetaStore
from lambda_isr.store.dynamodb import DynamoDbMetaStore
from lambda_isr.store.files import FileHtmlStore
from lambda_isr.store.memory import MemoryHtmlStore, MemoryMetaStore
from lambda_isr.store.s3 import S3HtmlStore
from lambda_isr.store.sqlite import SqliteMetaStore
from lambda_isr.testing import FakeClock
from tests.conftest import DdbTable, S3Bucket

META_BACKENDS = ["memory", "sqlite", "moto", "ddb_local"]
HTML_BACKENDS = ["memory", "files", "moto_s3"]


def counting_tokens(prefix: str) -> Callable[[], str]:
    counter = itertools.count(1)
    return lambda: f"{prefix}-{next(counter)}"


@dataclass
class MetaHarness:
    """Makes store instances (different clocks and tokens) over one shared backend."""

    name: str
    clock: FakeClock
    _make: Callable[..., MetaStore]
    table: DdbTable | None = None
    created: list[MetaStore] = field(default_factory=list)

    def make(
        self, clock: FakeClock | None = None, tokens: str = "tok", **options: Any
    ) -> MetaStore:
        store = self._make(clock or self.clock, counting_tokens(tokens), **options)
        self.created.append(store)
        return store


@pytest.fixture(params=META_BACKENDS)
def meta_harness(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MetaHarness]:
    clock = FakeClock(1000.0)
    name: str = request.param
    if name == "memory":
        shared = MemoryMetaStore(clock=clock)

        def make_memory(c: FakeClock, t: Callable[[], str], **o: Any) -> MetaStore:
            # One dict, many "instances": share state, switch clock/tokens per handle.
            store = MemoryMetaStore(clock=c, token_source=t)
            store._records = shared._records
            store._leases = shared._leases
            store._passes = shared._passes
            store._variants = shared._variants
            store._tagged = shared._tagged
            store._lock = shared._lock
            return store

        yield MetaHarness(name, clock, make_memory)
    elif name == "sqlite":
        db = tmp_path / "meta.sqlite3"

        def make_sqlite(c: FakeClock, t: Callable[[], str], **o: Any) -> MetaStore:
            return SqliteMetaStore(db, clock=c, token_source=t, **o)

        harness = MetaHarness(name, clock, make_sqlite)
        yield harness
        for store in harness.created:
            assert isinstance(store, SqliteMetaStore)
            store.close()
    else:
        table: DdbTable = request.getfixturevalue(
            "moto_ddb_table" if name == "moto" else "ddb_local_table"
        )

        def make_ddb(c: FakeClock, t: Callable[[], str], **o: Any) -> MetaStore:
            return DynamoDbMetaStore(table.name, client=table.client, clock=c, token_source=t, **o)

        yield MetaHarness(name, clock, make_ddb, table)


@dataclass
class HtmlHarness:
    name: str
    make: Callable[[], HtmlStore]
    writes: Callable[[], int]
    """Objects physically written so far (content-addressed skips not counted)."""
    damage: Callable[[str, bytes], None]
    """Replace the bytes behind an object key, as a foreign writer or a broken copy would."""


@pytest.fixture(params=HTML_BACKENDS)
def html_harness(request: pytest.FixtureRequest, tmp_path: Path) -> HtmlHarness:
    name: str = request.param
    if name == "memory":
        mem = MemoryHtmlStore()
        return HtmlHarness(name, lambda: mem, lambda: mem.puts, mem.damage)
    if name == "files":
        root = tmp_path / "html"

        seen: set[tuple[str, int]] = set()

        def files_written() -> int:
            # Every write publishes a new file (os.replace): a new inode under the key's path.
            seen.update((str(p), p.stat().st_ino) for p in root.rglob("*.html") if p.is_file())
            return len(seen)

        def damage_file(key: str, body: bytes) -> None:
            path = FileHtmlStore(root).path_for(key)
            header, _, _ = path.read_bytes().partition(b"\n")
            path.write_bytes(header + b"\n" + body)  # the header line stays

        return HtmlHarness(name, lambda: FileHtmlStore(root), files_written, damage_file)
    bucket: S3Bucket = request.getfixturevalue("moto_s3_bucket")
    puts = [0]

    def count_put(http_response: Any, **kwargs: Any) -> None:
        if http_response.status_code == 200:  # a 412 (the object exists) wrote nothing
            puts[0] += 1

    bucket.client.meta.events.register("after-call.s3.PutObject", count_put)

    def damage_object(key: str, body: bytes) -> None:
        head = bucket.client.head_object(Bucket=bucket.name, Key=key)
        bucket.client.put_object(Bucket=bucket.name, Key=key, Body=body, Metadata=head["Metadata"])
        puts[0] -= 1  # not one of the store's writes

    return HtmlHarness(
        name, lambda: S3HtmlStore(bucket.name, client=bucket.client), lambda: puts[0], damage_object
    )
