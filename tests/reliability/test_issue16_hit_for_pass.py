"""Issue 16, item 1: hit-for-pass. Once a render shows its page cannot be stored (a cookie,
``private``/``no-store``, a status outside the set, a header no store can keep, an oversize
body), the requests of that page render uncached, in parallel, for a bounded time
(``min(revalidate, 30)`` by default), and nobody waits on a lease that cannot produce a copy.

Invariants, never one schedule: renders overlap, no request waits after it has seen the marker,
every answer is whole, nothing is stored."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from lambda_isr.clock import SystemClock
from lambda_isr.face import ContentionPolicy
from lambda_isr.http.request import FaceRequest
from lambda_isr.http.response import FaceResult
from lambda_isr.store.contract import AcquireResult, CacheRecord, Lease, LeaseHeld, MetaStore
from lambda_isr.store.dynamodb import DynamoDbMetaStore
from lambda_isr.store.files import FileHtmlStore
from tests.conftest import DdbTable
from tests.isr.helpers import RecordingWriter, key_for, make_env, stream
from tests.support.events import load_event

THREADS = 16
RENDER_SECONDS = 0.5
BODY = b"<p>hello, you</p><p>the rest</p>"


class PersonalPage:
    """A page that sets a cookie (never storable) and takes RENDER_SECONDS to stream; counts
    the renders in flight."""

    def __init__(self) -> None:
        self.renders = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()

    def __call__(self, request: FaceRequest) -> FaceResult:
        with self._lock:
            self.renders += 1
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)

        def body() -> Iterator[str]:
            try:
                yield "<p>hello, you</p>"
                time.sleep(RENDER_SECONDS)
                yield "<p>the rest</p>"
            finally:
                with self._lock:
                    self.in_flight -= 1

        return FaceResult(200, {"content-type": "text/html"}, cookies=["sid=1"], body=body())


class ThreadLog:
    """A MetaStore that notes, per thread, each call and whether it answered "passing"."""

    def __init__(self, inner: DynamoDbMetaStore) -> None:
        self.inner = inner
        self.calls: dict[int, list[str]] = {}
        self._lock = threading.Lock()

    def _note(self, what: str) -> None:
        with self._lock:
            self.calls.setdefault(threading.get_ident(), []).append(what)

    def get(self, cache_key: str) -> CacheRecord | None:
        self._note("get")
        return self.inner.get(cache_key)

    def try_acquire_lease(self, cache_key: str, duration: float) -> AcquireResult:
        result = self.inner.try_acquire_lease(cache_key, duration)
        passing = isinstance(result, LeaseHeld) and result.pass_until is not None
        self._note("acquire:passing" if passing else "acquire")
        return result

    def refresh_lease(self, lease: Lease, duration: float) -> Lease:
        return self.inner.refresh_lease(lease, duration)

    def commit_generation(self, lease: Lease, record: CacheRecord) -> None:
        self._note("commit")
        self.inner.commit_generation(lease, record)

    def release_lease(self, lease: Lease) -> None:
        self.inner.release_lease(lease)

    def mark_uncacheable(self, lease: Lease, seconds: float) -> bool:
        self._note("mark")
        return self.inner.mark_uncacheable(lease, seconds)

    def invalidate(self, cache_key: str) -> bool:
        return self.inner.invalidate(cache_key)


def _ddb_face(table: DdbTable, tmp_path: Path, face: PersonalPage, meta: MetaStore) -> Any:
    return make_env(
        face,
        clock=SystemClock(),
        meta_store=meta,
        html_store=FileHtmlStore(tmp_path / "html", fsync=False),
        contention=ContentionPolicy.WAIT,
    )


@pytest.mark.ddb_local
@pytest.mark.timeout(120)
def test_16_requests_on_a_new_uncacheable_page_render_in_parallel(
    ddb_local_table: DdbTable, tmp_path: Path
) -> None:
    face = PersonalPage()
    meta = ThreadLog(DynamoDbMetaStore(ddb_local_table.name, client=ddb_local_table.client))
    env = _ddb_face(ddb_local_table, tmp_path, face, meta)
    start = threading.Barrier(THREADS)

    def one(_: int) -> tuple[int, RecordingWriter]:
        start.wait(timeout=30)
        writer = RecordingWriter()
        env.face.__lambda_isr_stream__(load_event("get"), None, writer)
        return threading.get_ident(), writer

    with ThreadPoolExecutor(THREADS) as pool:
        replies = list(pool.map(one, range(THREADS)))

    assert face.renders == THREADS
    assert face.max_in_flight > 1  # renders overlapped: no queue on the lease
    states = sorted(r.headers["x-isr-cache"] for _, r in replies)
    assert states == ["bypass"] * (THREADS - 1) + ["miss"]  # one lease holder found out
    for _, reply in replies:
        assert (reply.status, reply.body, reply.cookies) == (200, BODY, ["sid=1"])
        assert reply.ended
        assert reply.error is None
        assert reply.headers["cache-control"] == "private, no-cache"
    for ident, reply in replies:
        calls = meta.calls.get(ident, [])
        if "acquire:passing" in calls:  # this request saw the marker: it waited no more
            assert calls[-1] == "acquire:passing", calls
        if reply.headers["x-isr-cache"] == "bypass":
            assert reply.headers["cache-status"] == "lambda-isr; fwd=bypass; detail=pass"
    assert sum(c.count("mark") for c in meta.calls.values()) == 1
    assert not any("commit" in c for c in meta.calls.values())
    assert meta.inner.get(key_for()) is None  # nothing stored

    # A following request in another process (no memory of it) learns it from the lease.
    other = _ddb_face(ddb_local_table, tmp_path, face, meta)
    later = stream(other, load_event("get"))
    assert later.headers["cache-status"] == "lambda-isr; fwd=bypass; detail=pass"
    assert later.body == BODY


def _result(**kwargs: Any) -> Callable[[FaceRequest], FaceResult]:
    return lambda request: FaceResult(body="<p>0123456789</p>", **kwargs)


REASONS: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "set-cookie": ({"cookies": ["sid=1"]}, {}),
    "cache-control-private": ({"headers": {"cache-control": "private"}}, {}),
    "cache-control-no-store": ({"headers": {"cache-control": "no-store"}}, {}),
    "status-500": ({"status": 500}, {}),
    "oversize": ({}, {"max_body_bytes": 10}),
    "header-not-storable": ({"headers": {"x-name": "caf\u00e9"}}, {}),
}


@pytest.mark.parametrize("reason", sorted(REASONS))
def test_every_reason_not_to_store_leaves_a_bounded_pass(reason: str) -> None:
    result, options = REASONS[reason]
    env = make_env(_result(**result), revalidate=60, **options)
    first = stream(env, load_event("get"))
    assert (first.headers["x-isr-cache"], first.body) == ("miss", b"<p>0123456789</p>")
    assert env.summaries()[-1]["detail"] == reason
    assert (env.meta.calls.get("mark"), env.meta.calls.get("release")) == (1, None)
    acquires = env.meta.calls["acquire"]
    following = stream(env, load_event("get"))
    assert following.headers["cache-status"] == "lambda-isr; fwd=bypass; detail=pass"
    assert following.body == b"<p>0123456789</p>"
    assert env.meta.calls["acquire"] == acquires  # this process knows: not even a lease try
    env.face.driver.passes = type(env.face.driver.passes)()  # a new sandbox: asks the store
    fresh_sandbox = stream(env, load_event("get"))
    assert fresh_sandbox.headers["cache-status"] == "lambda-isr; fwd=bypass; detail=pass"
    assert len(env.renders) == 3
    assert env.meta.inner.get(key_for()) is None
    env.clock.advance(30)  # min(revalidate, 30): the pass is over, the lease decides again
    again = stream(env, load_event("get"))
    assert again.headers["x-isr-cache"] == "miss"
    assert env.meta.calls["mark"] == 2


def test_the_pass_ends_and_a_page_that_became_cacheable_is_stored() -> None:
    personal = {"on": True}

    def face(request: FaceRequest) -> FaceResult:
        cookies = ["sid=1"] if personal["on"] else []
        return FaceResult(body="<p>page</p>", cookies=cookies)

    env = make_env(face, revalidate=10)  # a 10 s pass: min(revalidate, 30)
    stream(env, load_event("get"))
    personal["on"] = False
    env.clock.advance(9)
    assert stream(env, load_event("get")).headers["x-isr-cache"] == "bypass"
    env.clock.advance(1)
    assert stream(env, load_event("get")).headers["x-isr-cache"] == "miss"
    assert stream(env, load_event("get")).headers["x-isr-cache"] == "hit"


def test_pass_seconds_zero_keeps_the_lease_queue() -> None:
    env = make_env(_result(cookies=["sid=1"]))
    env.face.driver.config = replace(env.face.driver.config, pass_seconds=0)
    stream(env, load_event("get"))
    assert (env.meta.calls.get("mark"), env.meta.calls.get("release")) == (None, 1)
    assert stream(env, load_event("get")).headers["x-isr-cache"] == "miss"
