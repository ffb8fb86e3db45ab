"""Failure paths: early and late render failures, store outages, lost leases, slow renders."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from lambda_isr.face import isr_face
from lambda_isr.http.request import FaceRequest
from lambda_isr.store.contract import Lease, LeaseHeld
from tests.isr.helpers import down, key_for, make_env, stream
from tests.support.events import load_event


class Switch:
    """A face whose behaviour a test flips between requests."""

    def __init__(self) -> None:
        self.mode = "ok"
        self.generation = 0

    def __call__(self, request: FaceRequest) -> Iterator[str]:
        self.generation += 1
        if self.mode == "early":
            raise RuntimeError("database password is hunter2")
        yield f"<p>gen {self.generation}</p>"
        if self.mode == "late":
            raise RuntimeError("template blew up: secret detail")
        yield "<footer>ok</footer>"


def _lease_free(env: Any) -> bool:
    got = env.meta.inner.try_acquire_lease(key_for(), 15)
    if isinstance(got, Lease):
        env.meta.inner.release_lease(got)
        return True
    return False


def test_early_failure_with_a_stale_copy_serves_it() -> None:
    face = Switch()
    env = make_env(face)
    stream(env, load_event("get"))
    env.clock.advance(61)
    face.mode = "early"
    reply = stream(env, load_event("get"))
    assert reply.status == 200
    assert reply.headers["x-isr-cache"] == "stale-error"
    assert reply.headers["cache-status"] == "lambda-isr; fwd=stale; detail=render-error"
    assert reply.headers["cache-control"] == "private, no-cache"
    assert reply.body == b"<p>gen 1</p><footer>ok</footer>"
    assert env.meta.calls.get("commit") == 1
    assert _lease_free(env)


def test_early_failure_without_a_copy_is_a_clean_500() -> None:
    face = Switch()
    face.mode = "early"
    env = make_env(face)
    reply = stream(env, load_event("get"))
    assert reply.status == 500
    assert reply.ended
    assert reply.error is None
    assert reply.headers["cache-control"] == "no-store"
    assert reply.headers["x-isr-cache"] == "miss"
    assert b"11111111-0000-4000-8000-000000000001" in reply.body
    assert b"hunter2" not in reply.body
    assert b"RuntimeError" not in reply.body
    assert env.meta.inner.get(key_for()) is None
    assert _lease_free(env)
    assert env.summaries()[-1]["events"]["RenderError"] == 1


def test_late_failure_appends_footer_fails_and_keeps_the_previous_page() -> None:
    face = Switch()
    env = make_env(face)
    stream(env, load_event("get"))
    previous = env.meta.inner.get(key_for())
    env.clock.advance(61)
    face.mode = "late"
    reply = stream(env, load_event("get"))
    assert reply.status == 200
    assert reply.body == (
        b"<p>gen 2</p>"
        b'<template data-lambda-isr-error data-request-id="11111111-0000-4000-8000-000000000001">'
        b"</template>"
    )
    assert isinstance(reply.error, RuntimeError)
    assert not reply.ended
    assert reply.headers["cache-control"] == "private, no-cache"
    assert env.meta.inner.get(key_for()) == previous
    assert _lease_free(env)
    summary = env.summaries()[-1]
    assert summary["events"]["StreamError"] == 1
    assert summary["stored"] is False
    face.mode = "early"
    after = stream(env, load_event("get"))
    assert (after.headers["x-isr-cache"], after.body) == (
        "stale-error",
        b"<p>gen 1</p><footer>ok</footer>",
    )


def test_late_failure_in_buffered_mode_is_an_early_one() -> None:
    face = Switch()
    env = make_env(face)
    env.face(load_event("get"), None)
    env.clock.advance(61)
    face.mode = "late"
    result = env.face(load_event("get"), None)
    assert result["statusCode"] == 200
    assert result["headers"]["x-isr-cache"] == "stale-error"
    assert result["body"] == "<p>gen 1</p><footer>ok</footer>"


def test_custom_error_footer() -> None:
    face = Switch()
    face.mode = "late"
    env = make_env(face, error_footer=lambda rid: f"<!-- failed {rid} -->")
    reply = stream(env, load_event("get"))
    assert reply.body.endswith(b"<!-- failed 11111111-0000-4000-8000-000000000001 -->")


def test_store_down_serves_the_last_copy_this_process_served() -> None:
    env = make_env()
    stream(env, load_event("get"))
    env.meta.get_error = down()
    reply = stream(env, load_event("get"))
    assert reply.status == 200
    assert reply.headers["x-isr-cache"] == "stale"
    assert "detail=store-unavailable" in reply.headers["cache-status"]
    assert reply.headers["cache-control"] == "private, no-cache"
    assert reply.body == b"<html>page /blog/hello-world #1</html>"


def test_store_down_without_a_copy_is_503_with_retry_after() -> None:
    env = make_env()
    env.meta.get_error = down()
    reply = stream(env, load_event("get"))
    assert reply.status == 503
    assert reply.headers["retry-after"].isdigit()
    assert reply.headers["cache-control"] == "no-store"
    assert env.renders == []
    assert env.summaries()[-1]["events"]["StoreUnavailable"] == 1


def test_store_creation_failure_is_a_store_outage() -> None:
    def broken() -> Any:
        raise OSError("no such table")

    face = isr_face(revalidate=5, store=broken)(lambda r: "x")
    result = face(load_event("get"), None)
    assert result["statusCode"] == 503


def test_pointer_to_missing_object_regenerates() -> None:
    env = make_env()
    stream(env, load_event("get"))
    record = env.meta.inner.get(key_for())
    assert record is not None
    env.html.inner.delete(record.html_key)
    env.face.driver.bodies = type(env.face.driver.bodies)()
    reply = stream(env, load_event("get"))
    assert reply.headers["x-isr-cache"] == "miss"
    assert len(env.renders) == 2


def test_html_store_outage_is_a_miss() -> None:
    env = make_env()
    stream(env, load_event("get"))
    env.face.driver.bodies = type(env.face.driver.bodies)()
    env.html.open_error = down()
    reply = stream(env, load_event("get"))
    assert reply.headers["x-isr-cache"] == "miss"
    assert reply.body == b"<html>page /blog/hello-world #2</html>"


def test_lease_acquire_outage_with_a_stale_copy_serves_it() -> None:
    env = make_env()
    stream(env, load_event("get"))
    env.clock.advance(61)
    env.meta.acquire_error = down()
    reply = stream(env, load_event("get"))
    assert reply.headers["x-isr-cache"] == "stale"


def test_slow_render_keeps_its_lease() -> None:
    holder: dict[str, Any] = {}

    def slow(request: FaceRequest) -> Iterator[str]:
        yield "<p>start</p>"
        env.clock.advance(10)  # past half of the 15 s lease
        assert env.meta.refreshed.wait(10), "the lease keeper never refreshed"
        env.clock.advance(10)  # 20 s after acquisition: expired without the refresh
        holder["contender"] = env.meta.inner.try_acquire_lease(key_for(), 15)
        yield "<p>end</p>"

    env = make_env(slow, lease_seconds=15)
    reply = stream(env, load_event("get"))
    assert reply.body == b"<p>start</p><p>end</p>"
    assert isinstance(holder["contender"], LeaseHeld)
    assert env.meta.calls["commit"] == 1
    record = env.meta.inner.get(key_for())
    assert record is not None
    assert record.size == len(reply.body)


def test_lost_lease_at_commit_is_logged_not_served_as_error() -> None:
    taken: dict[str, Any] = {}

    def slow(request: FaceRequest) -> Iterator[str]:
        yield "<p>mine</p>"
        env.clock.advance(20)  # our 15 s lease expired (no refresh: the keeper polls slowly)
        taken["lease"] = env.meta.inner.try_acquire_lease(key_for(), 15)

    env = make_env(slow, lease_seconds=15)
    env.face.driver.keeper_poll = 3600
    reply = stream(env, load_event("get"))
    assert isinstance(taken["lease"], Lease)
    assert reply.status == 200
    assert reply.ended
    assert reply.error is None
    assert reply.body == b"<p>mine</p>"
    assert env.meta.inner.get(key_for()) is None
    summary = env.summaries()[-1]
    assert summary["events"]["LeaseLost"] == 1
    assert summary["stored"] is False
    assert any("lease lost" in line["message"] for line in env.log_lines())
    assert isinstance(env.meta.inner.try_acquire_lease(key_for(), 15), LeaseHeld)


def test_unchanged_body_is_not_written_again() -> None:
    env = make_env(lambda request: "<p>same</p>")
    stream(env, load_event("get"))
    first = env.meta.inner.get(key_for())
    env.clock.advance(61)
    stream(env, load_event("get"))
    second = env.meta.inner.get(key_for())
    assert first is not None
    assert second is not None
    assert second.generated_at > first.generated_at
    assert second.html_key == first.html_key
    assert env.html.inner.puts == 1


def test_a_render_that_never_yields_a_thread_is_not_left_behind() -> None:
    before = threading.active_count()
    env = make_env(lambda request: "<p>x</p>")
    stream(env, load_event("get"))
    assert threading.active_count() == before


@pytest.mark.parametrize("when", ["before-first-byte", "after-first-byte"])
def test_a_cancelled_async_face_is_an_ordinary_render_failure(when: str) -> None:
    """``asyncio.CancelledError`` is a BaseException: it must not escape the handler (it would
    kill the runtime loop mid-stream); it is handled like any other failure."""

    async def body() -> AsyncIterator[str]:
        if when == "after-first-byte":
            yield "<p>start</p>"
        raise asyncio.CancelledError

    env = make_env(lambda request: body())
    reply = stream(env, load_event("get"))
    if when == "before-first-byte":
        assert reply.status == 500
        assert reply.error is None
    else:
        assert reply.status == 200
        assert reply.error is not None
        assert reply.body.startswith(b"<p>start</p><template data-lambda-isr-error")
    assert env.meta.inner.get(key_for()) is None
