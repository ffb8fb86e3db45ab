"""Regeneration after the response, on DynamoDB Local + the files HTML store, real clock.

The lease winner on a stale page is answered with the stale copy; the response ends; the same
invocation then renders and commits the new generation; the next request is served it."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lambda_isr.clock import SystemClock
from lambda_isr.http.request import FaceRequest
from lambda_isr.isr.config import Regeneration
from lambda_isr.store.contract import Lease
from lambda_isr.store.dynamodb import DynamoDbMetaStore
from lambda_isr.store.files import FileHtmlStore
from tests.conftest import DdbTable
from tests.isr.helpers import Env, FakeContext, RecordingWriter, key_for, make_env, stream
from tests.support.events import load_event

pytestmark = pytest.mark.ddb_local
AFTER = Regeneration.AFTER_RESPONSE


def _env(table: DdbTable, tmp_path: Path, face: Any, **options: Any) -> Env:
    meta = DynamoDbMetaStore(table.name, client=table.client, clock=SystemClock())
    return make_env(
        face,
        clock=SystemClock(),
        meta_store=meta,
        html_store=FileHtmlStore(tmp_path / "html", fsync=False),
        regeneration=AFTER,
        **options,
    )


class Pages:
    """Generation n renders ``v<n>``; it records whether the answer had ended when it ran."""

    def __init__(self) -> None:
        self.n = 0
        self.writer: RecordingWriter | None = None
        self.ended_when_rendering: list[bool] = []
        self.fail_from: int | None = None

    def __call__(self, request: FaceRequest) -> Iterator[str]:
        self.n += 1
        self.ended_when_rendering.append(self.writer is not None and self.writer.finished)
        if self.fail_from is not None and self.n >= self.fail_from:
            raise RuntimeError("render broke (test)")
        yield f"<html>v{self.n}</html>"


def _get(env: Env, pages: Pages) -> RecordingWriter:
    writer = RecordingWriter(env.log)
    pages.writer = writer
    env.face.__lambda_isr_stream__(load_event("get"), FakeContext(), writer)
    return writer


def _stale(env: Env) -> None:
    assert env.meta.inner.invalidate(key_for())  # a soft purge: stale for every reader


def test_stale_copy_now_new_generation_committed_after_the_response_ended(
    ddb_local_table: DdbTable, tmp_path: Path
) -> None:
    pages = Pages()
    env = _env(ddb_local_table, tmp_path, pages)
    first = _get(env, pages)
    assert first.body == b"<html>v1</html>"
    _stale(env)
    env.log.clear()

    answer = _get(env, pages)
    assert answer.ended
    assert answer.body == b"<html>v1</html>"  # the stale copy, at once
    assert answer.headers["x-isr-cache"].startswith("stale")
    assert "s-maxage" not in answer.headers.get("cache-control", "")
    assert pages.ended_when_rendering == [False, True]  # rendered once the answer had ended
    names = [entry[0] for entry in env.log]
    assert names.index("end") < names.index("commit")  # committed after the response ended
    record = env.meta.inner.get(key_for())
    assert record is not None
    assert record.is_fresh(SystemClock().now())

    after = _get(env, pages)
    assert after.headers["x-isr-cache"] == "hit"
    assert after.body == b"<html>v2</html>"
    assert pages.n == 2
    assert env.summaries()[-2]["events"].get("RegenerateAfterResponse") == 1


def test_a_failing_render_after_the_response_keeps_the_stale_copy(
    ddb_local_table: DdbTable, tmp_path: Path
) -> None:
    pages = Pages()
    env = _env(ddb_local_table, tmp_path, pages)
    _get(env, pages)
    _stale(env)
    pages.fail_from = 2

    answer = _get(env, pages)
    assert answer.ended
    assert answer.body == b"<html>v1</html>"
    record = env.meta.inner.get(key_for())
    assert record is not None
    assert not record.is_fresh(SystemClock().now())  # still the stale copy
    assert isinstance(env.meta.inner.try_acquire_lease(key_for(), 5), Lease)  # released
    summary = env.summaries()[-1]
    assert summary["events"].get("AfterResponseRenderFailed") == 1
    assert summary["events"].get("RenderError") == 1
    assert any("render failed" in line.get("message", "") for line in env.log_lines())


def test_a_buffered_runtime_regenerates_blocking_and_says_so_once(
    ddb_local_table: DdbTable, tmp_path: Path
) -> None:
    pages = Pages()
    env = _env(ddb_local_table, tmp_path, pages)
    env.face(load_event("get"), FakeContext())
    for expected in (2, 3):
        _stale(env)
        response = env.face(load_event("get"), FakeContext())
        assert response["body"] == f"<html>v{expected}</html>"  # the new page: blocking
    notices = [
        line for line in env.log_lines() if "needs time after the response" in line["message"]
    ]
    assert len(notices) == 1


def test_too_little_time_left_regenerates_blocking(
    ddb_local_table: DdbTable, tmp_path: Path
) -> None:
    pages = Pages()
    env = _env(ddb_local_table, tmp_path, pages)
    _get(env, pages)
    _stale(env)
    writer = RecordingWriter(env.log)
    env.face.__lambda_isr_stream__(load_event("get"), FakeContext(remaining_ms=3_000), writer)
    assert writer.body == b"<html>v2</html>"


def test_readers_during_the_render_after_get_the_stale_copy(
    ddb_local_table: DdbTable, tmp_path: Path
) -> None:
    release = threading.Event()
    started = threading.Event()
    pages = Pages()

    def slow(request: FaceRequest) -> Iterator[str]:
        if pages.n >= 1:
            started.set()
            assert release.wait(30)
        return pages(request)

    env = _env(ddb_local_table, tmp_path, slow)
    _get(env, pages)
    _stale(env)
    winner = threading.Thread(target=_get, args=(env, pages))
    winner.start()
    assert started.wait(30)
    other = stream(env, load_event("get"))
    assert other.body == b"<html>v1</html>"
    assert other.headers["x-isr-cache"].startswith("stale")
    release.set()
    winner.join(30)
    assert stream(env, load_event("get")).body == b"<html>v2</html>"
