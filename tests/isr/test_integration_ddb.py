"""The engine on the real backends: DynamoDB Local for metadata and leases (races need it:
moto is wrong under concurrency), the files HTML store; one single-threaded moto DynamoDB + S3
pass. Real clock, real threads."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from lambda_isr.clock import SystemClock
from lambda_isr.face import ContentionPolicy
from lambda_isr.http.request import FaceRequest
from lambda_isr.store.contract import Lease, LeaseHeld
from lambda_isr.store.dynamodb import DynamoDbMetaStore
from lambda_isr.store.files import FileHtmlStore
from lambda_isr.store.s3 import S3HtmlStore
from tests.conftest import DdbTable, S3Bucket
from tests.isr.helpers import Env, RecordingWriter, key_for, make_env, stream
from tests.support.events import load_event

pytestmark = pytest.mark.ddb_local
THREADS = 32


def _env(table: DdbTable, tmp_path: Path, face: Any, **options: Any) -> Env:
    meta = DynamoDbMetaStore(table.name, client=table.client, clock=SystemClock())
    return make_env(
        face,
        clock=SystemClock(),
        meta_store=meta,
        html_store=FileHtmlStore(tmp_path / "html", fsync=False),
        **options,
    )


def _all(env: Env) -> list[RecordingWriter]:
    def one(_: int) -> RecordingWriter:
        writer = RecordingWriter()
        env.face.__lambda_isr_stream__(load_event("get"), None, writer)
        return writer

    with ThreadPoolExecutor(THREADS) as pool:
        return list(pool.map(one, range(THREADS)))


def test_32_requests_on_a_stale_key_render_once(ddb_local_table: DdbTable, tmp_path: Path) -> None:
    held = threading.Semaphore(0)
    generation = {"n": 0}

    def face(request: FaceRequest) -> Iterator[str]:
        generation["n"] += 1
        if generation["n"] > 1:
            for _ in range(THREADS - 1):
                assert held.acquire(timeout=60)
        yield f"<p>gen {generation['n']}</p>"

    env = _env(ddb_local_table, tmp_path, face)
    stream(env, load_event("get"))
    assert env.meta.inner.invalidate(key_for())
    env.meta.on_acquire = lambda r: held.release() if isinstance(r, LeaseHeld) else None
    replies = _all(env)
    assert len(env.renders) == 2
    states = sorted(r.headers["x-isr-cache"] for r in replies)
    assert states == ["miss"] + ["stale"] * (THREADS - 1)
    assert all(r.ended and r.error is None and r.status == 200 for r in replies)
    record = env.meta.inner.get(key_for())
    assert record is not None
    assert record.is_fresh(time.time())


def test_32_requests_on_a_new_key_render_once_without_errors(
    ddb_local_table: DdbTable, tmp_path: Path
) -> None:
    held = threading.Semaphore(0)

    def face(request: FaceRequest) -> Iterator[str]:
        for _ in range(THREADS - 1):
            assert held.acquire(timeout=60)
        yield "<p>the one render</p>"

    waiting: set[int] = set()
    guard = threading.Lock()

    def on_acquire(result: object) -> None:
        # Count each waiting request once: a waiter retries the lease every 0.5 s.
        if isinstance(result, LeaseHeld):
            with guard:
                if threading.get_ident() not in waiting:
                    waiting.add(threading.get_ident())
                    held.release()

    env = _env(ddb_local_table, tmp_path, face, contention=ContentionPolicy.WAIT, wait_timeout=60)
    env.meta.on_acquire = on_acquire
    replies = _all(env)
    assert len(env.renders) == 1
    states = sorted(r.headers["x-isr-cache"] for r in replies)
    # Invariants, not one schedule: one render, everyone else served its generation.
    assert states.count("miss") == 1
    assert set(states) <= {"miss", "wait-hit", "hit"}
    assert {r.body for r in replies} == {b"<p>the one render</p>"}
    assert all(r.ended and r.error is None and r.status == 200 for r in replies)


def test_slow_render_keeps_its_lease(ddb_local_table: DdbTable, tmp_path: Path) -> None:
    seen: dict[str, Any] = {}

    def face(request: FaceRequest) -> Iterator[str]:
        yield "<p>slow</p>"
        assert env.meta.refreshed.wait(30), "no refresh"
        time.sleep(2.5)  # > the 2 s lease: only the refresh keeps it ours
        seen["contender"] = env.meta.inner.try_acquire_lease(key_for(), 2)
        yield "<p>done</p>"

    env = _env(ddb_local_table, tmp_path, face, lease_seconds=2)
    env.face.driver.keeper_poll = 0.1
    reply = stream(env, load_event("get"))
    assert reply.body == b"<p>slow</p><p>done</p>"
    assert isinstance(seen["contender"], LeaseHeld)
    assert env.meta.calls["commit"] == 1
    assert env.meta.inner.get(key_for()) is not None


class Switch:
    def __init__(self) -> None:
        self.mode = "ok"

    def __call__(self, request: FaceRequest) -> Iterator[str]:
        if self.mode == "early":
            raise RuntimeError("early")
        yield f"<p>{self.mode}</p>"
        if self.mode == "late":
            raise RuntimeError("late")


def test_failures_keep_serving_the_previous_page(ddb_local_table: DdbTable, tmp_path: Path) -> None:
    face = Switch()
    env = _env(ddb_local_table, tmp_path, face)
    assert stream(env, load_event("get")).body == b"<p>ok</p>"
    env.meta.inner.invalidate(key_for())
    face.mode = "early"
    early = stream(env, load_event("get"))
    assert (early.headers["x-isr-cache"], early.body) == ("stale-error", b"<p>ok</p>")
    face.mode = "late"
    late = stream(env, load_event("get"))
    assert late.body.startswith(b"<p>late</p><template data-lambda-isr-error")
    assert isinstance(late.error, RuntimeError)
    face.mode = "early"
    after = stream(env, load_event("get"))
    assert (after.headers["x-isr-cache"], after.body) == ("stale-error", b"<p>ok</p>")
    got = env.meta.inner.try_acquire_lease(key_for(), 5)
    assert isinstance(got, Lease)  # every failed attempt released its lease


def test_moto_dynamodb_and_s3_pair(moto_ddb_table: DdbTable, moto_s3_bucket: S3Bucket) -> None:
    meta = DynamoDbMetaStore(moto_ddb_table.name, client=moto_ddb_table.client)
    html = S3HtmlStore(moto_s3_bucket.name, client=moto_s3_bucket.client)
    env = make_env(clock=SystemClock(), meta_store=meta, html_store=html)
    miss = stream(env, load_event("get"))
    env.face.driver.bodies = type(env.face.driver.bodies)()
    hit = stream(env, load_event("get"))
    assert (miss.headers["x-isr-cache"], hit.headers["x-isr-cache"]) == ("miss", "hit")
    assert hit.body == miss.body
    not_modified = stream(
        env,
        load_event("get")
        | {"headers": {**load_event("get")["headers"], "if-none-match": hit.headers["etag"]}},
    )
    assert not_modified.status == 304
