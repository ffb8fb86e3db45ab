"""Store outages: stale copies keep serving, no copy means a clean 503/5xx, nothing half-written
is ever served, and the first request after the outage regenerates and commits normally."""

from __future__ import annotations

import pytest

from lambda_isr.isr.bodycache import BodyCache
from lambda_isr.store.faults import META_OPS, FaultPlan
from tests.isr.helpers import RecordingWriter
from tests.reliability.support import Rig, assert_clean, make_rig, page

pytestmark = pytest.mark.timeout(30)


def _warm(rig: Rig, path: str = "/p") -> bytes:
    """One committed generation of ``path``; returns its body."""
    first = rig.get(path)
    assert first["headers"]["x-isr-cache"] == "miss"
    assert rig.meta.get(rig.key(path)) is not None
    body: bytes = first["body"].encode()
    return body


def _answer(rig: Rig, streamed: bool) -> tuple[int, dict[str, str], bytes, bool]:
    """(status, headers, body, failed?) from the buffered or the streamed contract."""
    if streamed:
        w: RecordingWriter = rig.stream()
        assert w.status is not None
        return w.status, w.headers, w.body, w.error is not None
    r = rig.get()
    assert_clean(r)
    return r["statusCode"], r["headers"], r["body"].encode(), False


@pytest.mark.parametrize("streamed", [False, True], ids=["buffered", "streamed"])
@pytest.mark.parametrize("body_cache", [False, True], ids=["html-store", "body-cache"])
def test_stale_copy_keeps_serving_while_metadata_reads_fail(
    streamed: bool, body_cache: bool
) -> None:
    rig = make_rig(body_cache=body_cache)
    good = _warm(rig)
    rig.clock.advance(61)
    rig.plan.fail("get")
    for _ in range(20):
        status, headers, body, failed = _answer(rig, streamed)
        assert (status, headers["x-isr-cache"], failed) == (200, "stale", False)
        assert headers["cache-status"] == "lambda-isr; hit; ttl=-1; detail=store-unavailable"
        assert headers["cache-control"] == "private, no-cache"
        assert body == good
    assert rig.pages.renders == 1
    assert rig.plan.injected["get"] == 20


@pytest.mark.parametrize("op", ["try_acquire_lease", "put", "commit_generation"])
def test_stale_copy_keeps_serving_while_writes_fail(op: str) -> None:
    rig = make_rig()
    good = _warm(rig)
    rig.clock.advance(61)
    rig.plan.fail(op)
    for _ in range(5):
        r = rig.get()
        assert_clean(r)
        assert r["statusCode"] == 200
        if op == "try_acquire_lease":
            assert r["headers"]["x-isr-cache"] == "stale"
            assert r["body"].encode() == good
        else:  # the lease is won, the render is served, storing it fails
            assert r["headers"]["x-isr-cache"] == "miss"
            assert r["body"].encode() in rig.pages.complete()
        assert rig.lease_free()  # nobody is left holding the lease
    record = rig.meta.get(rig.key())
    assert record is not None
    assert record.generated_at == 1_000_000.0  # the stale generation is still the stored one


@pytest.mark.parametrize("streamed", [False, True], ids=["buffered", "streamed"])
def test_no_copy_and_metadata_down_is_a_clean_503_with_retry_after(streamed: bool) -> None:
    rig = make_rig()
    rig.plan.fail("get")
    status, headers, body, failed = _answer(rig, streamed)
    assert (status, failed) == (503, False)
    assert headers["retry-after"] == "5"
    assert headers["cache-control"] == "no-store"
    assert headers["x-isr-cache"] == "bypass"
    assert b"Service Unavailable" in body
    assert b"injected" not in body  # the store's error text never reaches the client
    assert rig.pages.renders == 0


def test_a_process_that_never_served_the_page_answers_503_not_someone_elses_copy() -> None:
    rig = make_rig()
    _warm(rig)
    cold = make_rig(plan=rig.plan, meta=rig.meta, html=rig.html, clock=rig.clock)
    rig.plan.fail("get")
    r = cold.get()
    assert r["statusCode"] == 503
    assert r["headers"]["retry-after"] == "5"


def test_no_copy_and_lease_store_down_renders_uncached() -> None:
    rig = make_rig()
    rig.plan.fail("try_acquire_lease")
    r = rig.get()
    assert_clean(r)
    assert (r["statusCode"], r["headers"]["x-isr-cache"]) == (200, "bypass")
    assert r["body"].encode() == page("/p", 1)
    assert rig.html.puts == 0
    assert rig.meta.get(rig.key()) is None


@pytest.mark.parametrize("op", ["put", "commit_generation"])
def test_failed_store_write_commits_nothing_and_the_next_request_regenerates(op: str) -> None:
    rig = make_rig()
    rig.plan.fail_next(op)
    r = rig.get()
    assert (r["statusCode"], r["headers"]["x-isr-cache"]) == (200, "miss")
    assert r["body"].encode() == page("/p", 1)
    assert rig.meta.get(rig.key()) is None
    assert rig.html.puts == (1 if op == "commit_generation" else 0)
    assert rig.lease_free()
    again = rig.get()
    assert again["headers"]["x-isr-cache"] == "miss"
    assert again["body"].encode() == page("/p", 2)
    hit = rig.get()
    assert hit["headers"]["x-isr-cache"] == "hit"
    assert hit["body"].encode() == page("/p", 2)
    record = rig.meta.get(rig.key())
    assert record is not None
    assert record.size == len(page("/p", 2))


def test_commit_that_landed_but_timed_out_serves_the_complete_page() -> None:
    rig = make_rig()
    rig.plan.fail_next("commit_generation", after=True)
    r = rig.get()
    assert r["body"].encode() == page("/p", 1)
    assert rig.meta.get(rig.key()) is not None
    assert rig.lease_free()
    hit = rig.get()
    assert hit["headers"]["x-isr-cache"] == "hit"
    assert hit["body"].encode() == page("/p", 1)
    assert rig.pages.renders == 1


def test_lost_release_leaves_a_lease_that_expires_then_regeneration_resumes() -> None:
    rig = make_rig()
    good = _warm(rig)
    rig.clock.advance(61)
    rig.plan.fail_next("put")
    rig.plan.fail_next("release_lease")
    first = rig.get()
    assert first["body"].encode() == page("/p", 2)
    assert not rig.lease_free()  # the failed release left the lease behind
    blocked = rig.get()
    assert (blocked["headers"]["x-isr-cache"], blocked["body"].encode()) == ("stale", good)
    rig.clock.advance(16)
    fresh = rig.get()
    assert fresh["headers"]["x-isr-cache"] == "miss"
    assert rig.get()["headers"]["x-isr-cache"] == "hit"
    assert rig.pages.renders == 3


def test_streamed_cached_body_breaking_midway_is_a_regeneration_not_a_half_page() -> None:
    """A stored body is read whole before the head goes out, so a read that breaks midway is
    a miss: the client gets a complete new generation, never a truncated page under
    CDN-cacheable headers, and the partial never enters the body cache."""
    rig = make_rig()
    good = _warm(rig)
    reader = make_rig(plan=rig.plan, meta=rig.meta, html=rig.html, clock=rig.clock)
    reader.env.face.driver.bodies = BodyCache()  # a real cache: the partial must not enter it
    rig.plan.fail_next("read")
    healed = reader.stream()
    assert rig.plan.injected["read"] == 1
    assert healed.status == 200
    assert healed.error is None
    # the broken read was a miss; after winning the lease the fresh record is re-read whole
    assert healed.headers["x-isr-cache"] == "hit"
    assert healed.body == good
    assert rig.pages.renders == 1
    assert len(reader.env.face.driver.bodies) == 1  # the complete body only
    hit = reader.stream()
    assert hit.error is None
    assert hit.headers["x-isr-cache"] == "hit"
    assert hit.body == healed.body


def test_buffered_cached_body_breaking_midway_is_never_served_as_a_page() -> None:
    rig = make_rig()
    good = _warm(rig)
    cold = make_rig(plan=rig.plan, meta=rig.meta, html=rig.html, clock=rig.clock)
    rig.plan.fail_next("read")
    r = cold.get()
    assert_clean(r)
    if r["statusCode"] == 200:
        assert r["body"].encode() == good
    else:
        assert r["statusCode"] >= 500
        assert r["headers"]["cache-control"] == "no-store"


def test_body_stream_failure_on_the_first_chunk_is_a_clean_regeneration() -> None:
    rig = make_rig()
    _warm(rig)
    cold = make_rig(plan=rig.plan, meta=rig.meta, html=rig.html, clock=rig.clock)
    rig.plan.read_after = 0
    rig.plan.fail_next("read")
    r = cold.get()
    assert_clean(r)
    assert r["statusCode"] == 200
    assert r["body"].encode() in {page("/p", 1)} | cold.pages.complete()


@pytest.mark.parametrize("streamed", [False, True], ids=["buffered", "streamed"])
def test_random_faults_everywhere_then_recovery(streamed: bool) -> None:
    ops: set[str] = set(META_OPS) | {"put", "open"}
    if streamed:
        ops.add("read")  # mid-body read failures: see the tests above
    plan = FaultPlan(rate=0.35, seed=11, rate_ops=ops)
    rig = make_rig(plan=plan, chunk_size=128)  # ~3 chunks a page: 2 chances to break
    with plan.paused():
        _warm(rig)
    outcomes: dict[str, int] = {}
    for step in range(150):
        if step % 10 == 0:
            rig.clock.advance(31)  # a page goes stale every other block
        status, headers, body, failed = _answer(rig, streamed)
        complete = rig.pages.complete()
        if failed:
            assert status == 200
            sent, marker, _ = body.partition(b"<template data-lambda-isr-error")
            assert marker  # the in-band error footer closes a broken stream
            assert sent not in complete
            assert any(c.startswith(sent) for c in complete)
            outcome = "broken-stream"
        elif status == 200:
            assert body in complete, body[:80]
            outcome = headers["x-isr-cache"]
        else:
            assert status == 503, status
            assert headers["retry-after"] == "5"
            outcome = "503"
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    assert sum(plan.injected.values()) > 50
    assert outcomes.get("stale", 0) > 0
    assert outcomes.get("hit", 0) > 0
    # The outage ends: leases left behind by failed releases expire, then all is normal.
    plan.heal()
    rig.clock.advance(61 + 16)
    renders = rig.pages.renders
    status, headers, body, failed = _answer(rig, streamed)
    assert (status, headers["x-isr-cache"], failed) == (200, "miss", False)
    assert "stored" not in headers["cache-status"]  # the head leaves before the store write
    assert rig.pages.renders == renders + 1
    status, headers, again, failed = _answer(rig, streamed)
    assert (status, headers["x-isr-cache"], again) == (200, "hit", body)
    record = rig.meta.get(rig.key())
    assert record is not None
    assert record.size == len(body)


def test_body_cache_option_is_honoured() -> None:
    from lambda_isr.face import isr_face  # noqa: PLC0415
    from lambda_isr.store.contract import Store  # noqa: PLC0415
    from lambda_isr.store.memory import MemoryHtmlStore, MemoryMetaStore  # noqa: PLC0415

    cache = BodyCache(max_bytes=1024)
    face = isr_face(
        revalidate=60, store=Store(MemoryMetaStore(), MemoryHtmlStore()), body_cache=cache
    )(lambda request: "<p>x</p>")
    assert face.driver.bodies is cache
