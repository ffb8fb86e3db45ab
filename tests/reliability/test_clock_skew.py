"""Two "workers" whose clocks disagree by a few seconds share one store (SQLite, like the dev
server's worker processes; each worker's store computes ``now`` from its own clock, like the
DynamoDB backend). Under concurrent load: one render at a time, one render per staleness
period, every request answered, no deadlock."""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from aws_lambda_powertools import Logger, Metrics

from lambda_isr.face import IsrFace, isr_face
from lambda_isr.http.request import FaceRequest
from lambda_isr.store.contract import Store
from lambda_isr.store.memory import MemoryHtmlStore
from lambda_isr.store.sqlite import SqliteMetaStore
from tests.isr.helpers import FakeContext
from tests.support.events import make_event

pytestmark = pytest.mark.timeout(60)

RENDER_SECONDS = 0.15


class World:
    """Shared real time plus a jump the test controls (to make pages stale)."""

    def __init__(self) -> None:
        self.jump = 0.0


class SkewedClock:
    """Real time, plus the world's jump, plus this worker's skew."""

    def __init__(self, world: World, skew: float) -> None:
        self.world = world
        self.skew = skew

    def now(self) -> float:
        return time.time() + self.world.jump + self.skew

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)


class SlowFace:
    """Renders slowly, counting renders and the most renders ever in flight at once."""

    def __init__(self) -> None:
        self.renders = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()

    def __call__(self, request: FaceRequest) -> Iterator[str]:
        with self._lock:
            self.renders += 1
            generation = self.renders
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            yield f"<p>generation {generation}</p>"
            time.sleep(RENDER_SECONDS)
            yield "<p>end</p>"
        finally:
            with self._lock:
                self.in_flight -= 1


def _worker(
    db: Path, html: MemoryHtmlStore, clock: SkewedClock, face: SlowFace
) -> tuple[IsrFace, SqliteMetaStore]:
    meta = SqliteMetaStore(db, clock=clock)
    handler = isr_face(
        revalidate=60,
        store=Store(meta, html),
        clock=clock,
        poll_interval=0.02,
        lease_seconds=15,  # a lease must outlast the skew between writers' clocks (4 s here)
        logger=Logger(service="isr-skew", stream=io.StringIO()),
        metrics=Metrics(namespace="IsrSkew", service="isr-skew"),
    )(face)
    return handler, meta


@pytest.mark.parametrize("skew", [3.0, -4.0])
def test_skewed_workers_render_once_per_period_without_deadlock(
    tmp_path: Path, skew: float
) -> None:
    world = World()
    html = MemoryHtmlStore()
    face = SlowFace()
    a, meta_a = _worker(tmp_path / "meta.db", html, SkewedClock(world, 0.0), face)
    b, meta_b = _worker(tmp_path / "meta.db", html, SkewedClock(world, skew), face)
    workers = [a, b]
    results: list[dict[str, Any]] = []
    lock = threading.Lock()

    def burst(count: int) -> None:
        start = threading.Barrier(count)

        def one(i: int) -> None:
            start.wait(timeout=10)
            deadline = time.monotonic() + 4 * RENDER_SECONDS
            while time.monotonic() < deadline:
                r = workers[i % 2](make_event("/skew"), FakeContext())
                with lock:
                    results.append(r)

        with ThreadPoolExecutor(count) as pool:
            for future in [pool.submit(one, i) for i in range(count)]:
                future.result(timeout=30)  # a deadlock fails here, not at the suite timeout

    try:
        burst(8)  # cold: every thread of both workers arrives at once
        assert face.renders == 1
        for period in range(1, 3):
            world.jump += 60 + abs(skew) + 1  # stale for both workers
            burst(8)
            assert face.renders == 1 + period
    finally:
        meta_a.close()
        meta_b.close()
    assert face.max_in_flight == 1
    assert results
    states = {r["headers"]["x-isr-cache"] for r in results}
    assert {r["statusCode"] for r in results} == {200}
    # Invariants, not one schedule (which requests waited or got a stale copy depends on how
    # the threads were scheduled): every answer whole, one render at a time, one per period.
    assert states <= {"hit", "miss", "wait-hit", "stale"}
    for r in results:
        assert r["body"].startswith("<p>generation ")
        assert r["body"].endswith("<p>end</p>")
