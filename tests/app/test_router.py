"""Routing: the seed's precedence, catch-alls, aliases, construction errors, decoding."""

from __future__ import annotations

import pytest

from lambda_isr.app.router import Router, parse_pattern
from lambda_isr.errors import ConfigError
from lambda_isr.isr.keys import normalise_path


def _router(*patterns: str) -> Router[str]:
    router: Router[str] = Router()
    for pattern in patterns:
        router.add(pattern, pattern)
    return router


def _route(router: Router[str], path: str) -> tuple[str, dict[str, str]] | None:
    found = router.match(normalise_path(path))
    return None if found is None else (found.value, found.params)


def test_static_beats_param_beats_catch_all_at_the_first_segment_that_differs() -> None:
    router = _router("/a/{x}/c", "/{y}/b/c", "/a/b/{z}", "/{rest+}")
    assert _route(router, "/a/b/c") == ("/a/b/{z}", {"z": "c"})
    assert _route(router, "/a/q/c") == ("/a/{x}/c", {"x": "q"})
    assert _route(router, "/q/b/c") == ("/{y}/b/c", {"y": "q"})
    assert _route(router, "/q/r/s") == ("/{rest+}", {"rest": "q/r/s"})


def test_precedence_at_several_depths() -> None:
    router = _router("/docs", "/docs/{page}", "/docs/api/{name}", "/docs/{path*}", "/{slug}")
    assert _route(router, "/docs") == ("/docs", {})
    assert _route(router, "/docs/intro") == ("/docs/{page}", {"page": "intro"})
    assert _route(router, "/docs/api") == ("/docs/{page}", {"page": "api"})
    assert _route(router, "/docs/api/x") == ("/docs/api/{name}", {"name": "x"})
    assert _route(router, "/docs/a/b/c") == ("/docs/{path*}", {"path": "a/b/c"})
    assert _route(router, "/about") == ("/{slug}", {"slug": "about"})
    assert _route(router, "/about/x") is None


def test_backtracks_when_the_static_branch_dead_ends() -> None:
    router = _router("/a/b/c", "/a/{x}/d")
    assert _route(router, "/a/b/d") == ("/a/{x}/d", {"x": "b"})


def test_star_catch_all_matches_zero_segments_plus_needs_one() -> None:
    star = _router("/docs/{path*}")
    assert _route(star, "/docs") == ("/docs/{path*}", {"path": ""})
    assert _route(star, "/docs/") == ("/docs/{path*}", {"path": ""})
    plus = _router("/docs/{path+}")
    assert _route(plus, "/docs") is None
    assert _route(plus, "/docs/x") == ("/docs/{path+}", {"path": "x"})
    root = _router("/{path*}")
    assert _route(root, "/") == ("/{path*}", {"path": ""})


def test_proxy_aliases() -> None:
    assert _route(_router("/{proxy+}"), "/a/b") == ("/{proxy+}", {"proxy": "a/b"})
    assert _route(_router("/api/{proxy*}"), "/api") == ("/api/{proxy*}", {"proxy": ""})


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("/a/{x}", "/a/{y}"),
        ("/a/{x}/c", "/a/{y}/c"),
        ("/{x+}", "/{y*}"),
        ("/about", "/about"),
    ],
)
def test_ambiguous_routes_name_both(first: str, second: str) -> None:
    router = _router(first)
    with pytest.raises(ConfigError) as err:
        router.add(second, second)
    assert repr(first) in str(err.value)
    assert repr(second) in str(err.value)


@pytest.mark.parametrize(
    "bad",
    [
        "about",
        "",
        "/a//b",
        "/a/",
        "/{rest+}/x",
        "/{a*}/{b}",
        "/a{b}",
        "/{}",
        "/{1x}",
        "/{x}/{x}",
        "/a/../b",
        "/{x-y}",
    ],
)
def test_bad_patterns_are_config_errors(bad: str) -> None:
    with pytest.raises(ConfigError, match="route"):
        parse_pattern(bad)


def test_params_are_percent_decoded_once() -> None:
    router = _router("/posts/{slug}", "/docs/{path+}")
    assert _route(router, "/posts/caf%C3%A9") == ("/posts/{slug}", {"slug": "café"})
    assert _route(router, "/posts/100%2525") == ("/posts/{slug}", {"slug": "100%25"})
    assert _route(router, "/posts/a%20b") == ("/posts/{slug}", {"slug": "a b"})


def test_an_encoded_slash_never_matches_a_param_only_a_catch_all() -> None:
    assert _route(_router("/posts/{slug}"), "/posts/a%2Fb") is None
    router = _router("/posts/{slug}", "/{rest+}")
    assert _route(router, "/posts/a%2Fb") == ("/{rest+}", {"rest": "posts/a/b"})


def test_dot_segments_and_duplicate_slashes_are_resolved_before_matching() -> None:
    router = _router("/posts/{slug}", "/about")
    assert _route(router, "/posts/x/../y") == ("/posts/{slug}", {"slug": "y"})
    assert _route(router, "//about/./") == ("/about", {})
    assert _route(router, "/../../about") == ("/about", {})
    assert _route(router, "/posts/%2E%2E/about") == ("/about", {})


def test_static_pattern_segments_are_decoded() -> None:
    router = _router("/caf%C3%A9", "/naïve")
    assert _route(router, "/caf%C3%A9") == ("/caf%C3%A9", {})
    assert _route(router, "/na%C3%AFve") == ("/naïve", {})


def test_two_hundred_routes_all_reachable() -> None:
    patterns = [f"/s{i}/{{id}}/detail" for i in range(100)] + [f"/p{i}" for i in range(100)]
    router = _router(*patterns)
    assert len(router) == 200
    for i in range(100):
        assert _route(router, f"/s{i}/7/detail") == (f"/s{i}/{{id}}/detail", {"id": "7"})
        assert _route(router, f"/p{i}") == (f"/p{i}", {})
