"""A render with no client goes through the same pipeline as a visitor's miss."""

from __future__ import annotations

from collections.abc import Iterator

from lambda_isr.http.request import FaceRequest
from lambda_isr.isr.detached import (
    DetachedOutcome,
    detached_request,
    regenerate,
)
from lambda_isr.store.contract import Lease
from tests.isr.helpers import HOST, key_for, make_env, stream
from tests.support.events import load_event


def test_a_page_regenerated_without_a_client_is_what_visitors_then_hit() -> None:
    env = make_env()
    request = detached_request("/blog/hello-world", host=HOST)
    done = regenerate(env.face.driver, env.face.fn, request)
    assert done.outcome is DetachedOutcome.COMMITTED
    assert done.cache_key == key_for()
    record = env.meta.inner.get(key_for())
    assert record is not None
    reply = stream(env, load_event("get"))
    assert reply.headers["x-isr-cache"] == "hit"
    assert reply.body == b"<html>page /blog/hello-world #1</html>"
    assert env.renders[0].host == HOST  # the site host, nothing from a visitor


def test_a_held_lease_means_someone_is_already_regenerating() -> None:
    env = make_env()
    held = env.meta.inner.try_acquire_lease(key_for(), 15)
    assert isinstance(held, Lease)
    done = regenerate(
        env.face.driver, env.face.fn, detached_request("/blog/hello-world", host=HOST)
    )
    assert done.outcome is DetachedOutcome.BUSY
    assert env.renders == []


def test_a_failing_render_stores_nothing_and_releases_the_lease() -> None:
    def broken(request: FaceRequest) -> Iterator[str]:
        yield "<p>half"
        raise RuntimeError("boom")

    env = make_env(broken)
    done = regenerate(env.face.driver, env.face.fn, detached_request("/x", host=HOST))
    assert done.outcome is DetachedOutcome.FAILED
    assert env.meta.inner.get(key_for("/x")) is None
    assert isinstance(env.meta.inner.try_acquire_lease(key_for("/x"), 15), Lease)


def test_an_uncacheable_render_is_reported_not_stored() -> None:
    env = make_env(lambda request: iter(["<p>x</p>"]), cacheable_statuses=[404])
    done = regenerate(env.face.driver, env.face.fn, detached_request("/x", host=HOST))
    assert done.outcome is DetachedOutcome.NOT_STORED
    assert done.reason == "status-200"
