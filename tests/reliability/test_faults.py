"""The fault injector itself: what it fails, when, and that it is transparent when idle."""

from __future__ import annotations

import pytest

from lambda_isr.errors import ConfigError, StoreUnavailableError
from lambda_isr.store.contract import CacheRecord, HtmlStore, Lease, MetaStore
from lambda_isr.store.faults import (
    ALL_OPS,
    FaultKind,
    FaultPlan,
    FaultyHtmlStore,
    FaultyMetaStore,
    InjectedFaultError,
)
from lambda_isr.store.memory import MemoryHtmlStore, MemoryMetaStore
from lambda_isr.testing import FakeClock


def _stores(plan: FaultPlan, chunk_size: int | None = 4) -> tuple[FaultyMetaStore, FaultyHtmlStore]:
    meta = FaultyMetaStore(MemoryMetaStore(clock=FakeClock(1000.0)), plan)
    html = FaultyHtmlStore(MemoryHtmlStore(), plan, chunk_size=chunk_size)
    return meta, html


def _commit(meta: MetaStore, html: HtmlStore, key: str = "k", body: bytes = b"0123456789") -> None:
    lease = meta.try_acquire_lease(key, 15)
    assert isinstance(lease, Lease)
    obj = html.put(key, body)
    meta.commit_generation(
        lease, CacheRecord(key, obj.key, 1000.0, 60, content_hash=obj.content_hash)
    )


def test_wrappers_satisfy_the_protocols_and_are_transparent_when_idle() -> None:
    plan = FaultPlan()
    meta, html = _stores(plan)
    assert isinstance(meta, MetaStore)
    assert isinstance(html, HtmlStore)
    _commit(meta, html)
    record = meta.get("k")
    assert record is not None
    opened = html.open(record.html_key)
    assert opened is not None
    assert opened.read_all() == b"0123456789"
    assert meta.invalidate("k") is True
    assert sum(plan.injected.values()) == 0
    assert plan.calls["get"] == 1
    assert plan.calls["put"] == 1
    assert plan.calls["read"] == 2  # 3 chunks of 4 bytes, the first is never failed


def test_scripted_faults_fail_exactly_the_named_calls() -> None:
    plan = FaultPlan()
    meta, _ = _stores(plan)
    plan.fail_next("get", 2, kind=FaultKind.THROTTLING)
    for _ in range(2):
        with pytest.raises(StoreUnavailableError, match="ThrottlingException") as info:
            meta.get("k")
        assert isinstance(info.value, InjectedFaultError)
        assert info.value.op == "get"
        assert info.value.kind is FaultKind.THROTTLING
    assert meta.get("k") is None
    plan.fail("try_acquire_lease")
    for _ in range(3):
        with pytest.raises(InjectedFaultError):
            meta.try_acquire_lease("k", 15)
    plan.clear("try_acquire_lease")
    assert isinstance(meta.try_acquire_lease("k", 15), Lease)
    assert plan.injected == {"get": 2, "try_acquire_lease": 3}
    with pytest.raises(ConfigError, match="unknown store operations"):
        plan.fail("gett")


def test_fault_before_the_call_never_reaches_the_store_after_does() -> None:
    plan = FaultPlan()
    _, html = _stores(plan)
    plan.fail_next("put")
    with pytest.raises(InjectedFaultError):
        html.put("k", b"body")
    assert isinstance(html.inner, MemoryHtmlStore)
    assert html.inner.puts == 0
    plan.fail_next("put", after=True)
    with pytest.raises(InjectedFaultError):
        html.put("k", b"body")
    assert html.inner.puts == 1  # the write landed, the caller was told it failed


def test_mid_stream_fault_breaks_an_opened_body_after_its_first_chunk() -> None:
    plan = FaultPlan()
    meta, html = _stores(plan)
    _commit(meta, html)
    record = meta.get("k")
    assert record is not None
    plan.fail_next("read", kind=FaultKind.CONNECTION_RESET)
    opened = html.open(record.html_key)
    assert opened is not None
    got: list[bytes] = []
    with pytest.raises(InjectedFaultError, match="Connection reset"):
        got.extend(opened.chunks)
    assert got == [b"0123"]
    plan.read_after = 0
    plan.fail_next("read")
    opened = html.open(record.html_key)
    assert opened is not None
    with pytest.raises(InjectedFaultError):
        next(opened.chunks)


def test_rate_faults_are_seeded_and_the_switch_works() -> None:
    def run(seed: int) -> list[bool]:
        plan = FaultPlan(rate=0.3, seed=seed, rate_ops=["get"])
        meta, _ = _stores(plan)
        out = []
        for _ in range(200):
            try:
                meta.get("k")
                out.append(False)
            except InjectedFaultError:
                out.append(True)
        return out

    first = run(7)
    assert first == run(7)
    assert first != run(8)
    assert 30 < sum(first) < 90
    plan = FaultPlan(rate=1.0, rate_ops=["get"])
    meta, _ = _stores(plan)
    with pytest.raises(InjectedFaultError):
        meta.get("k")
    assert meta.try_acquire_lease("k", 15) is not None  # not in rate_ops
    with plan.paused():
        assert meta.get("k") is None
    with pytest.raises(InjectedFaultError):
        meta.get("k")
    plan.disable()
    assert meta.get("k") is None
    plan.enable()
    plan.heal()
    assert meta.get("k") is None
    assert plan.calls["get"] == 5


def test_every_kind_is_a_store_unavailable_error_and_bad_plans_are_refused() -> None:
    plan = FaultPlan(kinds=list(FaultKind))
    meta, _ = _stores(plan)
    plan.fail("get")
    seen = set()
    for _ in range(len(FaultKind)):
        with pytest.raises(StoreUnavailableError) as info:
            meta.get("k")
        assert isinstance(info.value, InjectedFaultError)
        seen.add(info.value.kind)
    assert seen == set(FaultKind)
    assert {"get", "put", "open", "read", "commit_generation"} <= ALL_OPS
    with pytest.raises(ConfigError):
        FaultPlan(rate=1.5)
    with pytest.raises(ConfigError):
        FaultPlan(rate=-0.1)
    with pytest.raises(ConfigError):
        FaultPlan(kinds=[])
    with pytest.raises(ConfigError):
        FaultPlan(read_after=-1)
    with pytest.raises(ConfigError):
        plan.fail_next("get", 0)
    with pytest.raises(ConfigError):
        FaultyHtmlStore(MemoryHtmlStore(), plan, chunk_size=0)
