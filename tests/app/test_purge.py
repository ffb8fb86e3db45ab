"""Purges that reach every variant, tags, and the one PurgeResult (issue 14, items 4-6)."""

from __future__ import annotations

from typing import Any

import pytest

import lambda_isr
from lambda_isr import FaceRequest, FaceResult, PurgeResult, invalidate, invalidate_tags
from lambda_isr.errors import ConfigError
from lambda_isr.purge import PurgeKind
from lambda_isr.store.contract import Store
from tests.app.helpers import HOST, AppEnv, make_app

READERS: list[dict[str, Any]] = [
    {},
    {"query": "page=2"},
    {"cookies": ["lang=fr"]},
    {"headers": {"accept-language": "de"}},
    {"query": "page=2", "cookies": ["lang=fr"], "headers": {"accept-language": "de"}},
    {"headers": {"host": "other.example"}},
]


def varied_app(**options: Any) -> tuple[AppEnv, list[str]]:
    env = make_app()
    renders: list[str] = []

    @env.app.face(
        "/posts/{slug}",
        revalidate=600,
        vary_query=["page"],
        vary_cookies=["lang"],
        vary_headers=["accept-language"],
        **options,
    )
    def post(request: FaceRequest) -> Any:
        renders.append(request.params["slug"])
        tags = [f"post:{request.params['slug']}"]
        return FaceResult(body=f"<h1>{request.params['slug']}</h1>", tags=tags)

    return env, renders


def states(env: AppEnv, path: str) -> list[str]:
    return [env.get(path, **reader)["headers"]["x-isr-cache"] for reader in READERS]


def test_a_purge_reaches_every_variant() -> None:
    """Adversarial-testing case: readers with a varied cookie, header, query or host kept
    getting the old page as a fresh hit after invalidate()."""
    env, renders = varied_app()
    assert states(env, "/posts/a") == ["miss"] * len(READERS)
    assert states(env, "/posts/b")[0] == "miss"
    assert states(env, "/posts/a") == ["hit"] * len(READERS)
    result = invalidate(["/posts/a"], store=Store(env.meta, env.html))
    assert isinstance(result, PurgeResult)
    assert result.kind is PurgeKind.PATHS
    assert dict(result) == {"/posts/a": len(READERS)}
    assert result.total == len(READERS)
    assert result.cdn is None
    env.clock.advance(1)
    assert states(env, "/posts/a") == ["miss"] * len(READERS)  # each regenerated once
    assert states(env, "/posts/a") == ["hit"] * len(READERS)
    assert env.get("/posts/b")["headers"]["x-isr-cache"] == "hit"  # untouched
    assert renders.count("a") == 2 * len(READERS)


def test_a_purge_narrowed_to_one_host() -> None:
    env, _ = varied_app()
    states(env, "/posts/a")
    result = invalidate(["/posts/a"], host="OTHER.example", store=Store(env.meta, env.html))
    assert dict(result) == {"/posts/a": 1}
    result = invalidate(["/posts/a", "/none"], host=HOST, store=Store(env.meta, env.html))
    assert dict(result) == {"/posts/a": len(READERS) - 1, "/none": 0}


def test_tags_from_the_route_and_the_render_purge_every_variant() -> None:
    env, _ = varied_app(tags=["posts"])
    states(env, "/posts/a")
    env.get("/posts/b")
    store = Store(env.meta, env.html)
    result = invalidate_tags(["post:a"], store=store)
    assert result.kind is PurgeKind.TAGS
    assert dict(result) == {"post:a": len(READERS)}
    env.clock.advance(1)
    assert env.get("/posts/b")["headers"]["x-isr-cache"] == "hit"
    assert states(env, "/posts/a") == ["miss"] * len(READERS)
    both = invalidate_tags(["posts", "post:a"], store=store)
    assert dict(both) == {"posts": len(READERS) + 1, "post:a": len(READERS)}
    assert both.total == len(READERS) + 1  # each entry counted once


def test_invalid_tags_name_the_face() -> None:
    env = make_app()
    with pytest.raises(ConfigError, match=r"/x.*comma"):
        env.app.face("/x", revalidate=60, tags=["a,b"])(lambda r: "x")
    with pytest.raises(ConfigError, match="at most 50"):
        env.app.face("/y", revalidate=60, tags=[f"t{n}" for n in range(51)])(lambda r: "x")
    with pytest.raises(ConfigError, match="256"):
        env.app.face("/z", revalidate=60, tags=["a" * 257])(lambda r: "x")

    @env.app.face("/bad", revalidate=60)
    def bad(request: FaceRequest) -> FaceResult:
        return FaceResult(body="x", tags=["with space"])

    answer = env.get("/bad")
    assert answer["statusCode"] == 500
    assert "bad" in env.logs.getvalue()
    assert "visible ASCII" in env.logs.getvalue()
    with pytest.raises(ConfigError):
        invalidate_tags(["é"], store=Store(env.meta, env.html))


def test_purge_result_is_exported() -> None:
    assert lambda_isr.PurgeResult is PurgeResult
    assert lambda_isr.invalidate_tags is invalidate_tags
