"""Issue 16, items 6 and 8: damaged stored objects and stored heads no response may carry.

- A stored body is checked against its record's content hash before it goes out under
  CDN-cacheable headers: a same-length bit flip is a miss (never a hit), and the regeneration
  replaces the damaged object (content-addressed ``put`` rewrites an object that fails its check).
- A META item whose stored header holds CR/LF (another writer's) is a miss, not a 500.
- A response header or content type that some backend cannot store (non-ASCII: S3 metadata)
  makes the page served but not stored, on every backend, with a warning.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from lambda_isr.http.request import FaceRequest
from lambda_isr.http.response import FaceResult
from lambda_isr.isr.bodycache import BodyCache
from lambda_isr.store.contract import HtmlStore, MetaStore
from lambda_isr.store.dynamodb import DynamoDbMetaStore
from lambda_isr.store.files import FileHtmlStore
from lambda_isr.store.keys import partition_key
from lambda_isr.store.memory import MemoryHtmlStore, MemoryMetaStore
from lambda_isr.store.s3 import S3HtmlStore
from lambda_isr.store.sqlite import SqliteMetaStore
from lambda_isr.testing import FakeClock
from tests.conftest import DdbTable, S3Bucket
from tests.isr.helpers import Env, key_for, make_env, stream
from tests.support.events import load_event

pytestmark = pytest.mark.timeout(60)

PAGE = b"<html><body>" + b"the same page, every time. " * 40 + b"</body></html>"


@dataclass
class Backend:
    name: str
    meta: Callable[[FakeClock], MetaStore]
    html: Callable[[], HtmlStore]
    damage: Callable[[str, bytes], None]
    """Replace the bytes behind an object key (a broken copy, a foreign writer)."""


@pytest.fixture(params=["memory", "files+sqlite", "s3+dynamodb"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    name: str = request.param
    if name == "memory":
        mem = MemoryHtmlStore()
        metas: dict[int, MemoryMetaStore] = {}

        def memory_meta(clock: FakeClock) -> MetaStore:
            return metas.setdefault(0, MemoryMetaStore(clock=clock))

        yield Backend(name, memory_meta, lambda: mem, mem.damage)
    elif name == "files+sqlite":
        root = tmp_path / "html"

        def damage_file(key: str, body: bytes) -> None:
            path = FileHtmlStore(root).path_for(key)
            header, _, _ = path.read_bytes().partition(b"\n")
            path.write_bytes(header + b"\n" + body)

        yield Backend(
            name,
            lambda clock: SqliteMetaStore(tmp_path / "meta.db", clock=clock),
            lambda: FileHtmlStore(root, fsync=False),
            damage_file,
        )
    else:
        table: DdbTable = request.getfixturevalue("moto_ddb_table")
        bucket: S3Bucket = request.getfixturevalue("moto_s3_bucket")

        def damage_object(key: str, body: bytes) -> None:
            head = bucket.client.head_object(Bucket=bucket.name, Key=key)
            bucket.client.put_object(
                Bucket=bucket.name, Key=key, Body=body, Metadata=head["Metadata"]
            )

        yield Backend(
            name,
            lambda clock: DynamoDbMetaStore(table.name, client=table.client, clock=clock),
            lambda: S3HtmlStore(bucket.name, client=bucket.client),
            damage_object,
        )


def _process(backend: Backend, face: Callable[[FaceRequest], Any], clock: FakeClock) -> Env:
    """A new sandbox over the shared backend: its own store objects and body cache."""
    return make_env(face, clock=clock, meta_store=backend.meta(clock), html_store=backend.html())


def _same_page(request: FaceRequest) -> bytes:
    return PAGE


def _flip(body: bytes) -> bytes:
    return body[:50] + bytes([body[50] ^ 0x20]) + body[51:]


@pytest.mark.parametrize("damage", ["bit-flip", "truncated"])
def test_a_damaged_body_is_a_miss_and_the_regeneration_repairs_it(
    backend: Backend, damage: str
) -> None:
    clock = FakeClock(1_000_000.0)
    writer = _process(backend, _same_page, clock)
    assert stream(writer, load_event("get")).body == PAGE
    record = writer.meta.inner.get(key_for())
    assert record is not None
    broken = _flip(PAGE) if damage == "bit-flip" else PAGE[:-7]
    backend.damage(record.html_key, broken)

    reader = _process(backend, _same_page, clock)  # a new sandbox: reads the stored object
    answer = stream(reader, load_event("get"))
    assert answer.body == PAGE  # never the damaged bytes
    assert answer.headers["x-isr-cache"] == "miss"  # not a hit: it regenerated
    assert "s-maxage" not in answer.headers["cache-control"]
    assert any("does not match its record" in line["message"] for line in reader.log_lines())
    stored = reader.html.inner.open(record.html_key)
    assert stored is not None
    assert stored.read_all() == PAGE  # the regeneration replaced the damaged object

    third = _process(backend, _same_page, clock)
    hit = stream(third, load_event("get"))
    assert (hit.headers["x-isr-cache"], hit.body) == ("hit", PAGE)
    assert "s-maxage" in hit.headers["cache-control"]


def test_the_process_that_wrote_it_repairs_it_too(backend: Backend) -> None:
    """The S3 store remembers objects it wrote: a reader that finds one damaged makes it
    check again (``HtmlStream.damaged``), so even the writing process repairs it."""
    clock = FakeClock(1_000_000.0)
    env = _process(backend, _same_page, clock)
    stream(env, load_event("get"))
    record = env.meta.inner.get(key_for())
    assert record is not None
    backend.damage(record.html_key, _flip(PAGE))
    env.face.driver.bodies = BodyCache()  # its copy in memory is gone (evicted)
    assert stream(env, load_event("get")).headers["x-isr-cache"] == "miss"
    stored = env.html.inner.open(record.html_key)
    assert stored is not None
    assert stored.read_all() == PAGE


def _first_of_the_page(env: Env) -> None:
    stream(env, load_event("get"))
    assert env.meta.inner.get(key_for()) is not None


def test_a_stored_header_with_crlf_is_a_miss_not_a_500(
    backend: Backend, request: pytest.FixtureRequest
) -> None:
    if backend.name == "memory":
        pytest.skip("records in memory have no stored form another writer could edit")
    clock = FakeClock(1_000_000.0)
    face = _same_page
    env = _process(backend, face, clock)
    _first_of_the_page(env)
    tampered = "1\r\nset-cookie: session=stolen"
    if backend.name == "files+sqlite":
        meta = env.meta.inner
        assert isinstance(meta, SqliteMetaStore)
        with sqlite3.connect(meta.path) as conn:
            conn.execute("UPDATE meta SET headers = ?", (json.dumps([["x-a", tampered]]),))
    else:
        table: DdbTable = request.getfixturevalue("moto_ddb_table")
        table.client.update_item(
            TableName=table.name,
            Key={"pk": {"S": partition_key(key_for())}, "sk": {"S": "META"}},
            UpdateExpression="SET headers = :h",
            ExpressionAttributeValues={":h": {"L": [{"L": [{"S": "x-a"}, {"S": tampered}]}]}},
        )
    reader = _process(backend, face, clock)
    answer = stream(reader, load_event("get"))
    assert (answer.status, answer.body, answer.headers["x-isr-cache"]) == (200, PAGE, "miss")
    assert "x-a" not in answer.headers
    assert stream(reader, load_event("get")).headers["x-isr-cache"] == "hit"  # repaired


@pytest.mark.parametrize(
    "head",
    [
        {"headers": {"x-name": "caf\u00e9"}},
        {"headers": {"content-type": "text/html; title=\u00e9t\u00e9"}},
    ],
    ids=["header", "content-type"],
)
def test_a_head_some_store_cannot_keep_is_served_never_stored(
    backend: Backend, head: dict[str, Any]
) -> None:
    env = _process(backend, lambda r: FaceResult(body=PAGE, **head), FakeClock(1_000_000.0))
    first = stream(env, load_event("get"))
    assert (first.status, first.body) == (200, PAGE)
    for name, value in head["headers"].items():
        assert first.headers[name] == value
    assert env.summaries()[-1]["detail"] == "header-not-storable"
    assert any("not printable ASCII" in line["message"] for line in env.log_lines())
    assert ("html_put",) not in env.log
    assert env.meta.calls.get("commit") is None
    assert env.meta.inner.get(key_for()) is None
