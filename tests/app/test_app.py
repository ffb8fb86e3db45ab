"""FaceApp: modes, methods, not-found sharing, load, site host, wrong return values, keys."""

from __future__ import annotations

import asyncio
import random
import string
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

import lambda_isr
from lambda_isr import FaceRequest, FaceResult
from lambda_isr.app import SITE_HOST_ENV, FaceApp, Loaded, Page, PageHead
from lambda_isr.errors import ConfigError
from lambda_isr.isr.keys import page_key
from lambda_isr.store.contract import Store
from lambda_isr.store.memory import MemoryHtmlStore, MemoryMetaStore
from tests.app.helpers import HOST, body_of, make_app


def test_exports_are_lazy_names_of_lambda_isr() -> None:
    assert lambda_isr.FaceApp is FaceApp
    assert lambda_isr.PageHead is PageHead
    assert lambda_isr.Page is Page


def test_three_route_app_routes_renders_and_caches() -> None:
    env = make_app()
    renders: list[str] = []

    @env.app.face("/", revalidate=60)
    def home(request: FaceRequest) -> str:
        renders.append("home")
        return "<h1>home</h1>"

    @env.app.face("/posts/{slug}", revalidate=60)
    def post(request: FaceRequest) -> Page:
        renders.append(request.params["slug"])
        return Page(body=f"<h1>{request.params['slug']}</h1>", head=PageHead(title="A post"))

    @env.app.face("/live", mode="ssr")
    def live(request: FaceRequest) -> Iterator[str]:
        renders.append("live")
        yield "<p>now</p>"

    first = env.get("/posts/hello")
    assert first["statusCode"] == 200
    assert first["headers"]["x-isr-cache"] == "miss"
    assert body_of(first).startswith("<!doctype html><html><head>")
    assert "<title>A post</title>" in body_of(first)
    assert body_of(first).endswith("<h1>hello</h1></body></html>")
    again = env.get("/posts/hello")
    assert again["headers"]["x-isr-cache"] == "hit"
    assert body_of(again) == body_of(first)
    assert env.get("/")["statusCode"] == 200
    live1, live2 = env.get("/live"), env.get("/live")
    assert live1["headers"]["x-isr-cache"] == live2["headers"]["x-isr-cache"] == "bypass"
    assert renders == ["hello", "home", "live", "live"]
    # keys of matched pages are today's keys, so invalidate(paths) keeps working
    assert env.meta.committed == [page_key("/posts/hello", host=HOST), page_key("/", host=HOST)]
    # the route pattern is stored with each generation (an additive attribute)
    post_record = env.meta.get(page_key("/posts/hello", host=HOST))
    home_record = env.meta.get(page_key("/", host=HOST))
    assert post_record is not None
    assert home_record is not None
    assert (post_record.route, home_record.route) == ("/posts/{slug}", "/")


def test_the_decorator_returns_the_face_unchanged() -> None:
    env = make_app()

    def face(request: FaceRequest) -> str:
        return "x"

    assert env.app.face("/x", revalidate=5)(face) is face


def test_ssr_renders_any_method_and_never_caches() -> None:
    env = make_app()
    seen: list[tuple[str, bytes]] = []

    @env.app.face("/form", mode="ssr")
    def form(request: FaceRequest) -> str:
        seen.append((request.method, request.body))
        return "ok"

    for method in ("GET", "POST", "GET"):
        response = env.get("/form", method=method)
        assert response["statusCode"] == 200
        assert response["headers"]["x-isr-cache"] == "bypass"
    assert [m for m, _ in seen] == ["GET", "POST", "GET"]
    assert env.meta.committed == []


def test_isr_routes_answer_405_with_allow_for_other_methods() -> None:
    env = make_app()

    @env.app.face("/page", revalidate=60)
    def page(request: FaceRequest) -> str:
        raise AssertionError("never rendered")

    @env.app.face("/both", revalidate=60, methods=["GET", "POST"])
    def both(request: FaceRequest) -> str:
        return request.method

    response = env.get("/page", method="POST")
    assert response["statusCode"] == 405
    assert response["headers"]["allow"] == "GET, HEAD"
    assert env.get("/both", method="DELETE")["headers"]["allow"] == "GET, HEAD, POST"
    posted = env.get("/both", method="POST")
    assert posted["statusCode"] == 200
    assert posted["headers"]["x-isr-cache"] == "bypass"  # only GET and HEAD are ever cached
    assert "POST" in body_of(posted)
    assert env.meta.committed == []


def test_unmatched_paths_share_one_cached_not_found_page() -> None:
    env = make_app()
    seen: list[FaceRequest] = []

    def missing(request: FaceRequest) -> Page:
        seen.append(request)
        return Page(status=404, body=f"<h1>nothing at {request.path}</h1>")

    env = make_app(not_found=missing)

    @env.app.face("/posts/{slug}", revalidate=60)
    def post(request: FaceRequest) -> str:
        return "post"

    rng = random.Random(12)
    answers = []
    for _ in range(40):
        junk = "".join(rng.choice(string.ascii_lowercase) for _ in range(8))
        answers.append(env.get(f"/{junk}/wp-login.php", query=f"q={junk}", headers={"x-a": junk}))
    assert {a["statusCode"] for a in answers} == {404}
    assert [a["headers"]["x-isr-cache"] for a in answers[:2]] == ["miss", "hit"]
    assert len({body_of(a) for a in answers}) == 1
    assert len(env.meta.committed) == 1  # a scanner writes nothing new
    assert "::" in env.meta.committed[0].split(HOST, 1)[1]  # a key with no path
    (request,) = seen
    assert request.path == "/404"  # the shared render never sees the requested path
    assert request.query == {}
    assert "x-a" not in request.headers
    assert "nothing at /404" in body_of(answers[0])


def test_the_default_not_found_page_is_a_404_document() -> None:
    env = make_app()
    response = env.get("/nope")
    assert response["statusCode"] == 404
    assert body_of(response).startswith("<!doctype html>")
    assert "<title>Not found</title>" in body_of(response)


def test_not_found_is_per_host_and_tenant() -> None:
    env = make_app(tenant=lambda request: request.headers.get("x-tenant-id"))
    env.get("/a")
    env.get("/b", headers={"host": "other.example"})
    env.get("/c", headers={"x-tenant-id": "t1"})
    env.get("/d", headers={"x-tenant-id": "t1"})
    assert len(env.meta.committed) == 3


def test_load_runs_before_the_face_and_can_give_the_head() -> None:
    env = make_app(title_template="%s · Site")
    calls: list[str] = []

    def load(request: FaceRequest) -> Loaded:
        calls.append("load")
        return Loaded({"slug": request.params["slug"]}, head=PageHead(title="From load"))

    @env.app.face("/posts/{slug}", revalidate=60, load=load)
    def post(request: FaceRequest, data: dict[str, str]) -> str:
        calls.append(f"face {data['slug']}")
        return f"<p>{data['slug']}</p>"

    body = body_of(env.get("/posts/x"))
    assert calls == ["load", "face x"]
    assert "<title>From load · Site</title>" in body


def test_async_load_and_async_body() -> None:
    env = make_app()

    async def load(request: FaceRequest) -> int:
        await asyncio.sleep(0)
        return 41

    @env.app.face("/n", revalidate=60, load=load)
    async def number(request: FaceRequest, data: int) -> Page:
        async def body() -> AsyncIterator[str]:
            yield "<p>"
            await asyncio.sleep(0)
            yield str(data + 1)
            yield "</p>"

        return Page(body=body())

    assert body_of(env.get("/n")).endswith("<body><p>42</p></body></html>")


def test_a_load_failure_is_an_early_failure_stale_copy_or_500() -> None:
    env = make_app()
    broken = {"now": False}

    def load(request: FaceRequest) -> str:
        if broken["now"]:
            raise RuntimeError("the data source is down")
        return "ok"

    @env.app.face("/p", revalidate=60, load=load)
    def page(request: FaceRequest, data: str) -> str:
        return data

    good = env.get("/p")
    broken["now"] = True
    env.clock.advance(120)
    stale = env.get("/p")
    assert stale["statusCode"] == 200
    assert stale["headers"]["x-isr-cache"] == "stale-error"
    assert body_of(stale) == body_of(good)
    fresh = make_app()
    fresh.app.face("/p", revalidate=60, load=load)(page)
    failed = fresh.get("/p")
    assert failed["statusCode"] == 500
    assert "ok" not in body_of(failed)


@pytest.mark.parametrize(
    ("value", "shown"), [(None, "None"), ({"statusCode": 200}, "a dict"), (42, "an? int")]
)
def test_wrong_return_values_name_the_face_and_are_never_cached(value: Any, shown: str) -> None:
    env = make_app()

    @env.app.face("/bad", revalidate=60)
    def bad_face(request: FaceRequest) -> Any:
        return value

    response = env.get("/bad")
    assert response["statusCode"] == 500
    assert env.meta.committed == []
    logged = env.logs.getvalue()
    assert "bad_face" in logged
    assert "TypeError" in logged or "returned" in logged


def test_face_result_is_a_raw_response_outside_the_document() -> None:
    env = make_app()

    @env.app.face("/old", revalidate=60)
    def old(request: FaceRequest) -> FaceResult:
        return FaceResult(301, {"location": "/new"})

    response = env.get("/old")
    assert response["statusCode"] == 301
    assert response["headers"]["location"] == "/new"
    assert "<!doctype" not in body_of(response)


def test_site_host_keys_and_render_use_the_canonical_host(monkeypatch: pytest.MonkeyPatch) -> None:
    hosts: list[str] = []
    env = make_app(host="www.example.com")

    @env.app.face("/p", revalidate=60)
    def page(request: FaceRequest) -> str:
        hosts.append(request.host)
        return "p"

    env.get("/p", headers={"host": "d111.cloudfront.net"})
    env.get("/p", headers={"host": "other.example"})
    assert hosts == ["www.example.com"]
    assert env.meta.committed == [page_key("/p", host="www.example.com")]

    monkeypatch.setenv(SITE_HOST_ENV, "Env.Example.com")
    from_env = make_app()
    from_env.app.face("/p", revalidate=60)(page)
    from_env.get("/p")
    assert from_env.meta.committed == [page_key("/p", host="env.example.com")]
    assert hosts[-1] == "env.example.com"


def test_without_a_site_host_keys_use_the_request_host() -> None:
    env = make_app()
    env.app.face("/p", revalidate=60)(lambda request: "p")
    env.get("/p", headers={"host": "a.example"})
    env.get("/p", headers={"host": "b.example"})
    assert env.meta.committed == [
        page_key("/p", host="a.example"),
        page_key("/p", host="b.example"),
    ]


@pytest.mark.parametrize("host", ["https://x.example", "a b", "x.example/p", ""])
def test_a_bad_site_host_is_a_config_error(host: str, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError):
        FaceApp(host, store=Store(MemoryMetaStore(), MemoryHtmlStore()))
    if host:
        monkeypatch.setenv(SITE_HOST_ENV, host)
        with pytest.raises(ConfigError, match=SITE_HOST_ENV):
            FaceApp(store=Store(MemoryMetaStore(), MemoryHtmlStore()))


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({}, "revalidate"),
        ({"revalidate": 0}, "revalidate"),
        ({"revalidate": 5, "mode": "ssg"}, "mode"),
        ({"mode": "ssr", "revalidate": 5}, "never cached"),
        ({"revalidate": 5, "methods": "GET"}, "methods"),
        ({"revalidate": 5, "methods": ["FETCH"]}, "method"),
        ({"revalidate": 5, "vary_query": "page"}, "vary_query"),
        ({"revalidate": 5, "no_such_option": 1}, "no_such_option"),
        ({"revalidate": 5, "load": 3}, "load"),
    ],
)
def test_bad_route_options_are_config_errors_naming_the_route(
    options: dict[str, Any], match: str
) -> None:
    env = make_app()
    with pytest.raises(ConfigError, match=match) as err:
        env.app.face("/r/{x}", **options)(lambda request: "x")
    assert "'/r/{x}'" in str(err.value)


def test_ambiguous_routes_fail_at_registration_naming_both() -> None:
    env = make_app()
    env.app.face("/a/{x}", revalidate=5)(lambda request: "x")
    with pytest.raises(ConfigError, match=r"'/a/\{x\}' and '/a/\{y\}'"):
        env.app.face("/a/{y}", mode="ssr")(lambda request: "y")


def test_per_route_isr_options_apply() -> None:
    env = make_app()

    @env.app.face("/list", revalidate=60, vary_query=["page"], vary_cookies=[])
    def listing(request: FaceRequest) -> str:
        return f"page {request.first('page', '1')} utm={request.first('utm_source')}"

    body = body_of(env.get("/list", query="page=2&utm_source=x", cookies=["a=b"]))
    assert "page 2 utm=None" in body
    assert env.meta.committed == [page_key("/list", host=HOST, query={"page": ["2"]})]


def test_head_requests_get_no_body() -> None:
    env = make_app()
    env.app.face("/p", revalidate=60)(lambda request: "p")
    response = env.get("/p", method="HEAD")
    assert response["statusCode"] == 200
    assert body_of(response) == ""
