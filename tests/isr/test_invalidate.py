"""On-demand invalidation from code that has no request: the key it computes is the key the
face uses, and the purge makes the next request regenerate (soft purge: stale copy kept)."""

from __future__ import annotations

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
    again = env.face(make_event(), None)
    assert again["headers"]["x-isr-cache"] == "miss"
    assert len(env.renders) == 2
    assert env.face(make_event(), None)["headers"]["x-isr-cache"] == "hit"
