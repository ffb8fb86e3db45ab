"""Threads on memory stores with the real clock: one render per generation."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from lambda_isr.clock import SystemClock
from lambda_isr.face import ContentionPolicy
from lambda_isr.http.request import FaceRequest
from lambda_isr.store.contract import LeaseHeld
from tests.isr.helpers import RecordingWriter, make_env
from tests.support.events import load_event

THREADS = 32


def _run_all(env: Any) -> list[RecordingWriter]:
    def one(_: int) -> RecordingWriter:
        writer = RecordingWriter()
        env.face.__lambda_isr_stream__(load_event("get"), None, writer)
        return writer

    with ThreadPoolExecutor(THREADS) as pool:
        return list(pool.map(one, range(THREADS)))


def test_stale_key_under_32_threads_renders_once() -> None:
    others_done = threading.Event()
    served_stale = threading.Semaphore(0)
    calls = {"n": 0}

    def face(request: FaceRequest) -> Iterator[str]:
        calls["n"] += 1
        if calls["n"] > 1:  # the regeneration: hold the lease until every other thread answered
            for _ in range(THREADS - 1):
                assert served_stale.acquire(timeout=30)
            others_done.set()
        yield f"<p>gen {calls['n']}</p>"

    env = make_env(face, clock=SystemClock(), revalidate=1)
    stream_first = RecordingWriter()
    env.face.__lambda_isr_stream__(load_event("get"), None, stream_first)
    record = env.meta.inner.get(next(iter(env.meta.inner._records)))
    assert record is not None
    env.meta.inner.invalidate(record.cache_key)  # stale now, still servable

    original = env.meta.on_acquire

    def count_stale(result: Any) -> None:
        if isinstance(result, LeaseHeld):
            served_stale.release()

    env.meta.on_acquire = count_stale
    replies = _run_all(env)
    env.meta.on_acquire = original
    states = sorted(r.headers["x-isr-cache"] for r in replies)
    assert states == ["miss"] + ["stale"] * (THREADS - 1)
    assert calls["n"] == 2
    assert len(env.renders) == 2
    assert others_done.is_set()
    assert all(r.ended and r.status == 200 for r in replies)


def test_new_key_under_32_threads_renders_once_and_all_get_the_page() -> None:
    held = threading.Semaphore(0)

    def face(request: FaceRequest) -> Iterator[str]:
        for _ in range(THREADS - 1):  # every other request is waiting on the lease
            assert held.acquire(timeout=30)
        yield "<p>only once</p>"

    waiting: set[int] = set()
    guard = threading.Lock()

    def on_acquire(result: object) -> None:
        # Count each waiting request once: a waiter retries the lease every 0.5 s.
        if isinstance(result, LeaseHeld):
            with guard:
                if threading.get_ident() not in waiting:
                    waiting.add(threading.get_ident())
                    held.release()

    env = make_env(face, clock=SystemClock(), contention=ContentionPolicy.WAIT, wait_timeout=60)
    env.meta.on_acquire = on_acquire
    replies = _run_all(env)
    assert len(env.renders) == 1
    states = sorted(r.headers["x-isr-cache"] for r in replies)
    # Invariants, not one schedule: one render, everyone else served its generation (a
    # request that read the record after the commit is a plain hit).
    assert states.count("miss") == 1
    assert set(states) <= {"miss", "wait-hit", "hit"}
    assert {r.body for r in replies} == {b"<p>only once</p>"}
    assert all(r.ended and r.error is None for r in replies)
