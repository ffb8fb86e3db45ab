"""The DynamoDB store's purge indexes: extra items in the same table (see :mod:`.index`).

They extend the TableTheory schema without touching its canonical ``META``/``LOCK`` items:

- variant entry: ``pk = PATH#<sha256 of the normalised path>``, ``sk = KEY#<sha256 of the
  cache key>``; ``target_pk`` (the ``META`` item's ``pk``), ``cache_key``, ``host``,
  ``tenant`` (the key's parts), ``ttl``;
- tag entry: ``pk = TAG#<tag>``, ``sk = KEY#<sha256 of the cache key>``; ``target_pk``,
  ``cache_key``, ``ttl``.

Both get the store's ``TENANT#<t>#`` prefix when it has one. They are ``Put`` in the commit's
transaction only when they change: a first commit of a key in this process, tags that differ
from the last ones this process committed, or an entry whose ``ttl`` would end before the
``META`` item's (entries live :func:`entry_ttl`: one retention beyond the generation's ``META``
``ttl``, so an entry always outlives what it points to; a prerendered page's entries have no
``ttl``, as its ``META`` has none). Tags a page lost are deleted after the commit, best effort:
a leftover entry can never purge a page whose ``tags`` no longer hold it (the purge's condition
checks them).

A purge queries the entry partition (one ``Query`` per 1 MB page of entries) and soft-purges
each entry's ``META`` with one ``UpdateItem`` (a few in parallel): about one call per entry.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lambda_isr.store import _aws
from lambda_isr.store._ddb_item import readable
from lambda_isr.store.contract import CacheRecord
from lambda_isr.store.index import key_parts
from lambda_isr.store.keys import cache_key_hash

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef, TransactWriteItemTypeDef

PURGE_WORKERS = 8
"""Soft-purge writes in flight at once during one purge."""
_MEMO_SIZE = 50_000


def entry_pk(kind: str, value: str, tenant: str | None) -> str:
    """``PATH#<sha256>`` / ``TAG#<tag>``, with the store's tenant prefix."""
    body = f"{kind}#{cache_key_hash(value) if kind == 'PATH' else value}"
    return f"TENANT#{tenant}#{body}" if tenant else body


def entry_ttl(record: CacheRecord, retention: int) -> int | None:
    """An index entry's ``ttl``: one retention past its ``META`` item's, or none (SSG)."""
    if record.static:
        return None
    return int(record.generated_at) + 2 * retention


@dataclass(frozen=True, slots=True)
class Indexed:
    """What this process last wrote to the indexes for one cache key."""

    tags: frozenset[str]
    ttl: int | None


class IndexMemo:
    """The index entries this process wrote, per cache key (bounded, least recent dropped)."""

    def __init__(self, size: int = _MEMO_SIZE) -> None:
        self._size = size
        self._lock = threading.Lock()
        self._seen: OrderedDict[str, Indexed] = OrderedDict()

    def get(self, cache_key: str) -> Indexed | None:
        with self._lock:
            return self._seen.get(cache_key)

    def put(self, cache_key: str, indexed: Indexed) -> None:
        with self._lock:
            self._seen[cache_key] = indexed
            self._seen.move_to_end(cache_key)
            while len(self._seen) > self._size:
                self._seen.popitem(last=False)


def index_puts(
    table: str,
    record: CacheRecord,
    target_pk: str,
    *,
    known: Indexed | None,
    tenant: str | None,
    retention: int,
) -> tuple[list[TransactWriteItemTypeDef], frozenset[str], Indexed]:
    """The entry ``Put``s a commit adds (none when nothing changed), the tags to delete after
    it, and what the indexes then hold."""
    ttl = entry_ttl(record, retention)
    renew = (
        known is None
        or (known.ttl is None) != (ttl is None)
        or (ttl is not None and known.ttl is not None and known.ttl < ttl - retention)
    )  # an entry must outlive the META item it points to (ttl - retention)
    sk = f"KEY#{cache_key_hash(record.cache_key)}"
    common: dict[str, AttributeValueTypeDef] = {
        "sk": {"S": sk},
        "target_pk": {"S": target_pk},
        "cache_key": {"S": readable(record.cache_key)},
    }
    if ttl is not None:
        common["ttl"] = {"N": str(ttl)}
    puts: list[TransactWriteItemTypeDef] = []
    parts = key_parts(record.cache_key)
    if renew and parts is not None:
        item = {
            **common,
            "pk": {"S": entry_pk("PATH", parts.path, tenant)},
            "host": {"S": parts.host},
            "tenant": {"S": parts.tenant},
        }
        puts.append({"Put": {"TableName": table, "Item": item}})
    old = known.tags if known is not None else frozenset()
    for tag in sorted(record.tags if renew else record.tags - old):
        tag_item = {**common, "pk": {"S": entry_pk("TAG", tag, tenant)}}
        puts.append({"Put": {"TableName": table, "Item": tag_item}})
    new_ttl = ttl if renew or known is None else known.ttl
    return puts, old - record.tags, Indexed(record.tags, new_ttl)


def delete_tags(
    client: DynamoDBClient, table: str, cache_key: str, tags: frozenset[str], tenant: str | None
) -> None:
    """Best effort: drop the entries of tags a page no longer carries."""
    sk = f"KEY#{cache_key_hash(cache_key)}"
    ordered = sorted(tags)
    for start in range(0, len(ordered), 25):
        requests: Any = [
            {"DeleteRequest": {"Key": {"pk": {"S": entry_pk("TAG", t, tenant)}, "sk": {"S": sk}}}}
            for t in ordered[start : start + 25]
        ]
        try:
            with _aws.boundary("drop tag entries"):
                client.batch_write_item(RequestItems={table: requests})
        except Exception:
            return


@dataclass(frozen=True, slots=True)
class Entry:
    target_pk: str
    cache_key: str
    host: str | None
    tenant: str | None


def entries(client: DynamoDBClient, table: str, pk: str) -> Iterator[list[Entry]]:
    """The entries under one index partition, a query page at a time."""
    start: Any = None
    while True:
        kwargs: Any = {
            "TableName": table,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": pk}},
            "ProjectionExpression": "target_pk, cache_key, host, tenant",
            "ConsistentRead": True,
        }
        if start is not None:
            kwargs["ExclusiveStartKey"] = start
        with _aws.boundary("read purge index"):
            page = client.query(**kwargs)
        yield [
            Entry(
                item["target_pk"]["S"],
                item.get("cache_key", {}).get("S", ""),
                item.get("host", {}).get("S"),
                item.get("tenant", {}).get("S"),
            )
            for item in page.get("Items", [])
            if "S" in item.get("target_pk", {})
        ]
        start = page.get("LastEvaluatedKey")
        if not start:
            return


def purge(
    client: DynamoDBClient,
    table: str,
    pk: str,
    purge_one: Callable[[str], bool],
    *,
    host: str | None = None,
    tenant: str | None = None,
) -> list[str]:
    """Soft-purge every entry under ``pk`` (narrowed by host/tenant); the purged cache keys."""
    # Imported here: a request never purges, and the thread pool costs a cold start ~2 ms.
    from concurrent.futures import ThreadPoolExecutor  # noqa: PLC0415

    purged: list[str] = []
    with ThreadPoolExecutor(max_workers=PURGE_WORKERS) as pool:
        for batch in entries(client, table, pk):
            chosen = [
                e
                for e in batch
                if (host is None or e.host == host) and (tenant is None or e.tenant == tenant)
            ]
            done = pool.map(purge_one, [e.target_pk for e in chosen])
            purged += [e.cache_key for e, ok in zip(chosen, done, strict=True) if ok]
    return purged
