"""On-demand invalidation from code that has no request: the key it computes is the key the
face uses, and the purge makes the next request regenerate (soft purge: stale copy kept)."""

from __future__ import annotations

from typing import Any

import lambda_isr
import lambda_isr.purge
from lambda_isr import invalidate
from lambda_isr.isr.keys import page_key
from lambda_isr.store.contract import Store
from tests.isr.helpers import HOST, key_for, make_env
from tests.support.events import make_event


def test_page_key_matches_the_face_key() -> None:
    env = make_env(vary_query=["page"])
    env.face(make_event("/blog//hello-world/", query="page=2&utm_source=x"), None)
    expected = page_key("/blog/hello-world", host=HOST.upper(), query={"page": ["2"]})
    assert env.meta.inner.get(expected) is not None
    assert page_key("/a/./b/../c", host=None) == "default::/a/c"


def test_invalidate_makes_the_next_request_regenerate() -> None:
    env = make_env()
    store = Store(env.meta.inner, env.html.inner)
    first = env.face(make_event(), None)
    assert first["headers"]["x-isr-cache"] == "miss"
    assert env.face(make_event(), None)["headers"]["x-isr-cache"] == "hit"
    assert invalidate(["/blog/hello-world", "/never-rendered"], host=HOST, store=store) == {
        "/blog/hello-world": True,
        "/never-rendered": False,
    }
    record = env.meta.inner.get(key_for())
    assert record is not None
    assert not record.is_fresh(env.clock.now())
    env.clock.advance(1)  # a render that starts after the purge may clear it
    again = env.face(make_event(), None)
    assert again["headers"]["x-isr-cache"] == "miss"
    assert len(env.renders) == 2
    assert env.face(make_event(), None)["headers"]["x-isr-cache"] == "hit"


def test_a_purge_during_a_render_is_not_undone_by_that_render() -> None:
    """The render started before the purge read the old content: its commit is fenced off, the
    page stays purged, and the next request regenerates it (review finding: a purge lost to an
    in-flight regeneration served old content as fresh for a whole period)."""
    purge_now: list[bool] = []
    holder: dict[str, Store] = {}

    def face(request: Any) -> Any:
        yield "<p>v1</p>"
        if purge_now:
            purge_now.clear()
            env.clock.advance(1)
            invalidate(["/blog/hello-world"], host=HOST, store=holder["store"])

    env = make_env(face)
    holder["store"] = Store(env.meta.inner, env.html.inner)
    env.face(make_event(), None)
    env.clock.advance(61)
    purge_now.append(True)
    during = env.face(make_event(), None)
    assert during["headers"]["x-isr-cache"] == "miss"
    record = env.meta.inner.get(key_for())
    assert record is not None
    assert not record.is_fresh(env.clock.now())  # still purged
    env.clock.advance(1)
    after = env.face(make_event(), None)
    assert after["headers"]["x-isr-cache"] == "miss"
    assert len(env.renders) == 3


def test_the_public_invalidate_is_the_function_whatever_was_imported_first() -> None:
    assert callable(lambda_isr.invalidate)
    assert lambda_isr.invalidate is lambda_isr.purge.invalidate
