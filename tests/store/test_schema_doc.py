"""docs/schema.md: its Python models describe the items the DynamoDB store really writes."""

from __future__ import annotations

import re
import sys
import types
from dataclasses import MISSING, fields
from pathlib import Path
from typing import Any

import pytest

from lambda_isr.store.contract import STATIC_REVALIDATE, CacheRecord, Lease
from lambda_isr.store.dynamodb import DynamoDbMetaStore
from lambda_isr.testing import FakeClock
from tests.conftest import DdbTable

DOC = Path(__file__).resolve().parents[2] / "docs" / "schema.md"
KEY = "default::site.example/posts/a?page=2"


@pytest.fixture(scope="module")
def models() -> dict[str, Any]:
    (block,) = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.DOTALL)
    module = types.ModuleType("schema_models")
    sys.modules[module.__name__] = module  # dataclasses resolve annotations through it
    try:
        exec(compile(block, str(DOC), "exec"), module.__dict__)
    finally:
        del sys.modules[module.__name__]
    return module.__dict__


def conforms(model: Any, item: dict[str, Any]) -> None:
    names = {f.name for f in fields(model)}
    required = {f.name for f in fields(model) if f.default is MISSING}
    assert set(item) <= names, f"{model.__name__}: undocumented {sorted(set(item) - names)}"
    assert required <= set(item), f"{model.__name__}: missing {sorted(required - set(item))}"


def plain(value: dict[str, Any]) -> Any:
    ((kind, raw),) = value.items()
    if kind == "N":
        number = float(raw)
        return int(number) if number.is_integer() else number
    if kind == "SS":
        return set(raw)
    if kind == "L":
        return [plain(v) for v in raw]
    return raw


def items(table: DdbTable) -> list[dict[str, Any]]:
    found = table.client.scan(TableName=table.name)["Items"]
    return [{k: plain(dict(v)) for k, v in item.items()} for item in found]


def model_of(models: dict[str, Any], item: dict[str, Any]) -> Any:
    pk, sk = item["pk"], item["sk"]
    if sk == "META":
        return models["MetaItem"]
    if sk == "LOCK":
        return models["LockItem"]
    if sk.startswith("REQ#"):
        return models["ReqItem"]
    return models["VariantEntry"] if pk.startswith("PATH#") else models["TagEntry"]


def test_every_item_the_store_writes_matches_its_model(
    moto_ddb_table: DdbTable, models: dict[str, Any]
) -> None:
    clock = FakeClock(1000.0)
    store = DynamoDbMetaStore(moto_ddb_table.name, client=moto_ddb_table.client, clock=clock)
    record = CacheRecord(
        KEY,
        f"isr/{'a' * 32}/{'b' * 64}.html",
        1000.0,
        60,
        etag='"x"',
        headers=(("x-a", "1"),),
        tags=frozenset({"post:a"}),
        content_hash="c" * 64,
        size=10,
        route="/posts/{slug}",
    )
    lease = store.try_acquire_lease(KEY, 30)
    assert isinstance(lease, Lease)
    store.commit_generation(lease, record)
    static_key = "default::site.example/about"
    lease = store.try_acquire_lease(static_key, 30)
    assert isinstance(lease, Lease)
    store.commit_generation(
        lease,
        CacheRecord(static_key, record.html_key, 1000.0, STATIC_REVALIDATE, static=True),
    )
    store.invalidate_path("/posts/a")
    marked = store.try_acquire_lease("default::site.example/x", 30)
    assert isinstance(marked, Lease)
    store.mark_uncacheable(marked, 30)
    from lambda_isr.store.requests import DynamoDbRequests  # noqa: PLC0415 - issue 15's items

    DynamoDbRequests(store, clock=clock).claim(
        KEY, "msg-1", "h" * 64, enqueued_at=999.0, until=1030.0
    )
    written = items(moto_ddb_table)
    kinds = {model_of(models, item).__name__ for item in written}
    assert kinds == {"MetaItem", "LockItem", "ReqItem", "VariantEntry", "TagEntry"}
    for item in written:
        conforms(model_of(models, item), item)


def test_the_documented_freshness_rule_agrees_with_the_store(
    moto_ddb_table: DdbTable, models: dict[str, Any]
) -> None:
    clock = FakeClock(1000.0)
    store = DynamoDbMetaStore(moto_ddb_table.name, client=moto_ddb_table.client, clock=clock)
    lease = store.try_acquire_lease(KEY, 30)
    assert isinstance(lease, Lease)
    store.commit_generation(lease, CacheRecord(KEY, f"isr/{'a' * 32}/{'b' * 64}.html", 1000.0, 60))
    meta_model = models["MetaItem"]

    def documented(now: float) -> bool:
        (item,) = [i for i in items(moto_ddb_table) if i["sk"] == "META"]
        return bool(meta_model(**item).is_fresh(now))

    for now in (1000.0, 1059.0, 1060.0):
        got = store.get(KEY)
        assert got is not None
        assert documented(now) == got.is_fresh(now)
    clock.set(1001.0)
    store.invalidate_path("/posts/a")
    assert documented(1001.0) is False
