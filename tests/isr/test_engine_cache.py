"""The cache paths: miss, hit, 304, HEAD, stale (both contention policies), wait-hit."""

from __future__ import annotations

from typing import Any

import pytest

from lambda_isr.face import ContentionPolicy
from lambda_isr.isr.bodycache import BodyCache
from lambda_isr.store.contract import CacheRecord, Lease, LeaseHeld
from tests.isr.helpers import FakeContext, HookClock, commit_other, key_for, make_env, stream
from tests.support.events import load_event, make_event


def test_miss_streams_then_stores_after_end_and_next_is_hit() -> None:
    env = make_env()
    first = stream(env, load_event("get"))
    assert first.status == 200
    assert first.body == b"<html>page /blog/hello-world #1</html>"
    assert first.headers["x-isr-cache"] == "miss"
    # The head leaves before anything is stored: it says only what is known then (no "stored").
    assert first.headers["cache-status"] == "lambda-isr; fwd=miss"
    assert first.headers["cache-control"] == "private, no-cache"
    assert "etag" not in first.headers
    names = [entry[0] for entry in env.log]
    assert names.index("end") < names.index("html_put") < names.index("commit")

    second = stream(env, load_event("get"))
    assert second.body == first.body
    assert second.headers["x-isr-cache"] == "hit"
    assert second.headers["cache-status"] == "lambda-isr; hit; ttl=60"
    assert second.headers["cache-control"] == (
        "public, max-age=0, s-maxage=60, stale-while-revalidate=60"
    )
    assert second.headers["cdn-cache-control"] == (
        "public, max-age=60, stale-while-revalidate=60, stale-if-error=86400"
    )
    assert second.headers["etag"].startswith('"')
    assert len(env.renders) == 1
    assert env.html.opens == 0  # the in-process body cache served it


def test_hit_remaining_freshness_and_html_read_in_a_new_process() -> None:
    env = make_env()
    stream(env, load_event("get"))
    env.clock.advance(45.5)
    env.face.driver.bodies = type(env.face.driver.bodies)()  # a new process: cold body cache
    hit = stream(env, load_event("get"))
    assert hit.headers["cache-status"] == "lambda-isr; hit; ttl=14"
    assert "s-maxage=14," in hit.headers["cache-control"]
    assert env.html.opens == 1
    assert hit.body == b"<html>page /blog/hello-world #1</html>"
    stream(env, load_event("get"))
    assert env.html.opens == 1


def test_if_none_match_answers_304_without_body_or_html_read() -> None:
    env = make_env()
    stream(env, load_event("get"))
    etag = stream(env, load_event("get")).headers["etag"]
    env.face.driver.bodies = type(env.face.driver.bodies)()
    for header in (etag, f"W/{etag}", f'"nope", {etag}', "*"):
        reply = stream(env, make_event(headers={"if-none-match": header}))
        assert reply.status == 304, header
        assert reply.body == b""
        assert reply.headers["etag"] == etag
        assert reply.headers["x-isr-cache"] == "hit"
        assert "s-maxage" in reply.headers["cache-control"]
    assert env.html.opens == 0
    other = stream(env, load_event("get-if-none-match"))
    assert other.status == 200


def test_head_answers_headers_only_and_never_renders_over_a_copy() -> None:
    env = make_env()
    miss = stream(env, load_event("head"))  # a miss renders uncached and sends no body
    assert (miss.status, miss.body, miss.headers["x-isr-cache"]) == (200, b"", "bypass")
    assert len(env.renders) == 1
    assert env.meta.inner.get(key_for()) is None  # a HEAD render is never stored
    stream(env, load_event("get"))
    hit = stream(env, load_event("head"))
    get = stream(env, load_event("get"))
    assert hit.body == b""
    del hit.headers["x-request-id"], get.headers["x-request-id"]
    assert hit.headers == get.headers
    env.clock.advance(120)
    stale = stream(env, load_event("head"))
    assert stale.headers["x-isr-cache"] == "stale"
    assert len(env.renders) == 2


def test_stale_and_lease_won_regenerates_and_streams() -> None:
    env = make_env()
    stream(env, load_event("get"))
    env.clock.advance(61)
    reply = stream(env, load_event("get"))
    assert reply.headers["x-isr-cache"] == "miss"
    assert reply.headers["cache-status"] == "lambda-isr; fwd=stale"
    assert reply.body == b"<html>page /blog/hello-world #2</html>"
    record = env.meta.inner.get(key_for())
    assert record is not None
    assert record.is_fresh(env.clock.now())


def _commit_on(n: int, when: int, env: Any, body: bytes, holder: Lease) -> None:
    if n == when:
        commit_other(env, key_for(), body, holder)


def _hold_lease(env: Any) -> Lease:
    got = env.meta.inner.try_acquire_lease(key_for(), 30)
    assert isinstance(got, Lease)
    return got


def test_stale_and_lease_held_serves_stale_at_once() -> None:
    env = make_env()
    stream(env, load_event("get"))
    env.clock.advance(70)
    _hold_lease(env)
    reply = stream(env, load_event("get"))
    assert reply.headers["x-isr-cache"] == "stale"
    assert reply.headers["cache-status"] == "lambda-isr; hit; ttl=-10"
    assert reply.headers["cache-control"] == "private, no-cache"
    assert reply.body == b"<html>page /blog/hello-world #1</html>"
    assert len(env.renders) == 1


def test_stale_and_lease_held_with_wait_policy_gets_the_new_generation() -> None:
    clock = HookClock()
    env = make_env(clock=clock, contention=ContentionPolicy.WAIT)
    stream(env, load_event("get"))
    clock.advance(70)
    holder = _hold_lease(env)
    clock.on_sleep = lambda n: _commit_on(n, 3, env, b"new", holder)
    reply = stream(env, load_event("get"))
    assert reply.headers["x-isr-cache"] == "wait-hit"
    assert reply.headers["cache-status"].startswith("lambda-isr; fwd=miss; ttl=")
    assert reply.headers["cache-status"].endswith("; collapsed")
    assert "s-maxage" in reply.headers["cache-control"]
    assert reply.body == b"new"
    assert len(env.renders) == 1


def test_stale_wait_policy_times_out_to_the_stale_copy() -> None:
    env = make_env(contention=ContentionPolicy.WAIT, wait_timeout=2)
    stream(env, load_event("get"))
    env.clock.advance(70)
    _hold_lease(env)
    reply = stream(env, load_event("get"))
    assert reply.headers["x-isr-cache"] == "stale"
    assert "detail=wait-timeout" in reply.headers["cache-status"]
    assert len(env.renders) == 1


def test_missing_and_lease_held_waits_for_the_holder() -> None:
    clock = HookClock()
    env = make_env(clock=clock)
    holder = _hold_lease(env)
    clock.on_sleep = lambda n: _commit_on(n, 4, env, b"theirs", holder)
    reply = stream(env, load_event("get"))
    assert (reply.headers["x-isr-cache"], reply.body) == ("wait-hit", b"theirs")
    assert env.renders == []
    assert clock.sleeps == 4


def test_waiter_timeout_renders_uncached() -> None:
    env = make_env(wait_timeout=1.5)
    _hold_lease(env)  # 30 s: outlives the wait
    before = env.clock.now()
    reply = stream(env, load_event("get"))
    assert reply.status == 200
    assert reply.headers["x-isr-cache"] == "bypass"
    assert reply.headers["cache-status"] == "lambda-isr; fwd=bypass; detail=wait-timeout"
    assert len(env.renders) == 1
    assert env.meta.inner.get(key_for()) is None
    assert env.clock.now() - before == pytest.approx(1.5)


def test_wait_is_bounded_by_the_lambda_remaining_time() -> None:
    env = make_env(wait_timeout=10)
    _hold_lease(env)
    before = env.clock.now()
    writer = stream(env, load_event("get"), FakeContext(remaining_ms=2_500))
    assert writer.headers["x-isr-cache"] == "bypass"
    assert env.clock.now() - before <= 1.5 + 1e-9  # 2.5 s left minus the 1 s margin


def test_holder_lease_expiry_lets_the_waiter_take_over_and_store() -> None:
    env = make_env(wait_timeout=10)
    got = env.meta.inner.try_acquire_lease(key_for(), 2)
    assert isinstance(got, Lease)
    reply = stream(env, load_event("get"))
    assert reply.headers["x-isr-cache"] == "miss"
    assert len(env.renders) == 1
    assert env.meta.inner.get(key_for()) is not None
    assert env.summaries()[-1]["events"]["LeaseTakeover"] == 1


def test_won_lease_rechecks_and_serves_what_was_just_committed() -> None:
    env = make_env()

    def race(result: Lease | LeaseHeld) -> None:
        if isinstance(result, Lease):  # someone committed between our get and our acquire
            env.meta.inner.release_lease(result)
            commit_other(env, key_for(), b"just committed")
            again = env.meta.inner.try_acquire_lease(key_for(), 15)
            assert isinstance(again, Lease)
            assert again.token
            object.__setattr__(result, "token", again.token)

    env.meta.on_acquire = race
    reply = stream(env, load_event("get"))
    assert (reply.headers["x-isr-cache"], reply.body) == ("hit", b"just committed")
    assert env.renders == []
    assert env.meta.calls["release"] == 1
    assert not isinstance(env.meta.inner.try_acquire_lease(key_for(), 15), LeaseHeld)


def test_holder_releasing_without_a_commit_does_not_make_waiters_wait_it_out() -> None:
    """An uncacheable answer, an early failure or a lost commit releases the lease without a
    new generation: waiters retry the lease (every 0.5 s) instead of polling until the
    holder's expiry or their own timeout, and the page they render is stored."""
    clock = HookClock()
    env = make_env(clock=clock, wait_timeout=10)
    holder = _hold_lease(env)  # 30 s lease, released after the 2nd poll
    clock.on_sleep = lambda n: env.meta.inner.release_lease(holder) if n == 2 else None
    before = env.clock.now()
    reply = stream(env, load_event("get"))
    assert reply.headers["x-isr-cache"] == "miss"
    assert len(env.renders) == 1
    assert env.meta.inner.get(key_for()) is not None
    assert env.clock.now() - before < 1.0
    assert env.summaries()[-1]["events"]["LeaseTakeover"] == 1


def test_foreign_record_without_size_streams_privately_and_is_not_copied_past_the_limit() -> None:
    """A record written by another system (no ``size``) cannot be read whole first: it streams
    with a non-CDN-cacheable head, and the in-process copy stops at the body cache's item
    limit instead of holding the whole page."""
    env = make_env(body_cache=BodyCache(max_bytes=64, max_item_bytes=16))
    body = b"<p>" + b"x" * 200 + b"</p>"
    obj = env.html.inner.put(key_for(), body)
    lease = env.meta.inner.try_acquire_lease(key_for(), 15)
    assert isinstance(lease, Lease)
    foreign = CacheRecord(key_for(), obj.key, env.clock.now(), 60)  # canonical attributes only
    env.meta.inner.commit_generation(lease, foreign)
    reply = stream(env, load_event("get"))
    assert reply.headers["x-isr-cache"] == "hit"
    assert reply.body == body
    assert reply.headers["cache-control"] == "private, no-cache"
    assert "cdn-cache-control" not in reply.headers
    assert len(env.face.driver.bodies) == 0
