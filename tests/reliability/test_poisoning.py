"""Cache poisoning matrix: user A sends something that makes the face answer in a way only A
may see; user B's later request for the same page must never be served A's answer.

One test per rule of ``05-peers-lessons.md`` ("Rules that follow") and of 04's key rules. Every
case runs cold (nothing stored) and over a stale good copy (A's answer must not replace it).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest

from lambda_isr.errors import ConfigError
from lambda_isr.face import isr_face
from lambda_isr.http.request import FaceRequest
from lambda_isr.http.response import FaceResult
from lambda_isr.isr.keys import normalise_host
from tests.isr.helpers import HOST, FakeContext, make_env
from tests.support.events import make_event

pytestmark = pytest.mark.timeout(30)

PUBLIC = "<p>public page</p>"
SECRET = "A-ONLY"


_CALLER = threading.local()


def _is_a(request: FaceRequest) -> bool:
    """Whether user A is the one being rendered for. A cached render sees only what its key is
    made of (``cache_view``), so A's unkeyed ``x-attacker`` header is invisible to the face:
    the test tells the face who is asking out of band, standing for anything a face knows
    about its caller (server-side session state, a database lookup, ...)."""
    return bool(getattr(_CALLER, "is_a", False))


def _env(poison: Callable[[FaceRequest], Any], **options: Any) -> Any:
    """A face that answers ``poison(request)`` to A (when not None) and PUBLIC otherwise."""

    def face(request: FaceRequest) -> Any:
        answer = poison(request)
        return PUBLIC if answer is None else answer

    return make_env(face, **options)


def _call(env: Any, event: dict[str, Any]) -> dict[str, Any]:
    _CALLER.is_a = event.get("headers", {}).get("x-attacker") == "1"
    try:
        result: dict[str, Any] = env.face(event, FakeContext())
    finally:
        _CALLER.is_a = False
    return result


def _scenario(env: Any, a_event: dict[str, Any], b_event: dict[str, Any], stale: bool) -> Any:
    """Optionally store a good copy and let it go stale; A asks; B asks. Returns B's answer."""
    if stale:
        first = _call(env, b_event)
        assert first["body"] == PUBLIC
        env.clock.advance(61)
    _call(env, a_event)
    return _call(env, b_event)


def _assert_b_is_clean(b: dict[str, Any]) -> None:
    assert b["statusCode"] == 200
    assert b["body"] == PUBLIC
    assert b["cookies"] == []
    assert SECRET not in str(b["headers"])


def _attacker(**kw: Any) -> dict[str, Any]:
    headers = {"x-attacker": "1", **kw.pop("headers", {})}
    return make_event(headers=headers, **kw)


STALE = pytest.mark.parametrize("stale", [False, True], ids=["cold", "over-stale-copy"])


@STALE
@pytest.mark.parametrize(
    "answer",
    [
        FaceResult(body=SECRET, cookies=[f"session={SECRET}; HttpOnly"]),
        FaceResult(body=SECRET, headers={"Set-Cookie": f"session={SECRET}"}),
    ],
    ids=["cookies", "set-cookie-header"],
)
def test_response_setting_a_cookie_is_never_served_to_others(
    answer: FaceResult, stale: bool
) -> None:
    env = _env(lambda r: answer if _is_a(r) else None)
    _assert_b_is_clean(_scenario(env, _attacker(), make_event(), stale))


@STALE
@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_5xx_render_is_never_served_to_others(status: int, stale: bool) -> None:
    env = _env(lambda r: FaceResult(status=status, body=SECRET) if _is_a(r) else None)
    _assert_b_is_clean(_scenario(env, _attacker(), make_event(), stale))


def test_5xx_cannot_be_configured_cacheable() -> None:
    with pytest.raises(ConfigError, match="5xx never cache"):
        isr_face(revalidate=60, cacheable_statuses=[200, 503])


@STALE
@pytest.mark.parametrize("status", [400, 401, 403, 405, 429, 302, 307])
def test_status_outside_the_allowlist_is_never_served_to_others(status: int, stale: bool) -> None:
    env = _env(
        lambda r: (
            FaceResult(status=status, headers={"location": "/x"}, body=SECRET) if _is_a(r) else None
        )
    )
    _assert_b_is_clean(_scenario(env, _attacker(), make_event(), stale))


def test_allowlisted_404_is_shared_because_it_is_the_page() -> None:
    """The positive control: an allowlisted status is cached and shared (so the matrix above
    would see a shared answer if the rule were missing)."""
    env = _env(lambda r: FaceResult(status=404, body=SECRET) if _is_a(r) else None)
    _call(env, _attacker())
    b = _call(env, make_event())
    assert (b["statusCode"], b["body"], b["headers"]["x-isr-cache"]) == (404, SECRET, "hit")


@STALE
@pytest.mark.parametrize(
    "value", ["private", "no-store", "no-cache", "private, max-age=60", "public, no-store"]
)
def test_render_asking_not_to_be_stored_is_never_served_to_others(value: str, stale: bool) -> None:
    env = _env(
        lambda r: FaceResult(headers={"Cache-Control": value}, body=SECRET) if _is_a(r) else None
    )
    _assert_b_is_clean(_scenario(env, _attacker(), make_event(), stale))


@STALE
@pytest.mark.parametrize(
    "headers",
    [
        {"x-note": "ok\r\nSet-Cookie: session=A-ONLY"},
        {"x-note": "ok\nx-evil: 1"},
        {"location": "/x\r\n\r\n<script>A-ONLY</script>"},
    ],
    ids=["crlf-set-cookie", "lf", "response-splitting"],
)
def test_render_with_crlf_in_a_header_is_rejected_and_nothing_is_cached(
    headers: dict[str, str], stale: bool
) -> None:
    env = _env(lambda r: FaceResult(headers=headers, body=SECRET) if _is_a(r) else None)
    if stale:
        _call(env, make_event())
        env.clock.advance(61)
    commits = env.meta.calls.get("commit", 0)
    a = _call(env, _attacker())
    assert a["statusCode"] in (200, 500)  # the stale copy (stale-error) or a clean 500
    assert SECRET not in a["body"]
    assert all("\n" not in v and "\r" not in v for v in a["headers"].values())
    assert env.meta.calls.get("commit", 0) == commits
    _assert_b_is_clean(_call(env, make_event()))


def _reflect_user(request: FaceRequest) -> str:
    auth = request.headers.get("authorization", "")
    cookie = request.cookies.get("session", "")
    return f"<p>hello {auth}{cookie}</p>" if auth or cookie else PUBLIC


@STALE
def test_authorization_request_is_rendered_uncached(stale: bool) -> None:
    env = make_env(_reflect_user)
    b = _scenario(
        env, make_event(headers={"authorization": f"Bearer {SECRET}"}), make_event(), stale
    )
    _assert_b_is_clean(b)


def test_authorization_varied_by_the_key_never_crosses_credentials() -> None:
    env = make_env(_reflect_user, vary_headers=["authorization"])
    a = _call(env, make_event(headers={"authorization": f"Bearer {SECRET}"}))
    assert SECRET in a["body"]
    b = _call(env, make_event(headers={"authorization": "Bearer B"}))
    assert (b["body"], b["headers"]["x-isr-cache"]) == ("<p>hello Bearer B</p>", "miss")
    _assert_b_is_clean(_call(env, make_event()))
    again = _call(env, make_event(headers={"authorization": f"Bearer {SECRET}"}))
    assert again["headers"]["x-isr-cache"] == "hit"  # cached per credential, raw value unkeyed
    assert all(SECRET not in key for key in env.meta.inner._records)


@STALE
@pytest.mark.parametrize(
    "a_event",
    [
        make_event(cookies=[f"session={SECRET}"]),
        make_event(headers={"cookie": f"session={SECRET}; theme=dark"}),
    ],
    ids=["cookies-field", "cookie-header"],
)
def test_cookie_credentials_are_rendered_uncached(a_event: dict[str, Any], stale: bool) -> None:
    env = make_env(_reflect_user)
    _assert_b_is_clean(_scenario(env, a_event, make_event(), stale))


@STALE
def test_tenant_header_without_a_rule_fails_closed(stale: bool) -> None:
    env = make_env(
        lambda r: f"<p>tenant page {SECRET}</p>" if "x-tenant-id" in r.headers else PUBLIC
    )
    if stale:
        _call(env, make_event())
        env.clock.advance(61)
    renders = len(env.renders)
    a = _call(env, make_event(headers={"x-tenant-id": "acme"}))
    assert a["statusCode"] == 500
    assert a["headers"]["cache-status"] == "lambda-isr; fwd=bypass; detail=tenant-required"
    assert len(env.renders) == renders  # never rendered, never stored
    _assert_b_is_clean(_call(env, make_event()))


def test_tenants_with_a_rule_never_share_pages() -> None:
    env = make_env(
        lambda r: f"<p>{r.tenant or 'none'}</p>",  # the rule's value: the headers are not seen
        tenant=lambda r: r.headers.get("x-tenant-id"),
    )
    assert _call(env, make_event(headers={"x-tenant-id": "acme"}))["body"] == "<p>acme</p>"
    other = _call(env, make_event(headers={"x-tenant-id": "globex"}))
    assert (other["body"], other["headers"]["x-isr-cache"]) == ("<p>globex</p>", "miss")
    assert _call(env, make_event())["body"] == "<p>none</p>"


def _canonical(request: FaceRequest) -> str:
    return f'<link rel="canonical" href="https://{request.host}/p">'


@pytest.mark.parametrize("evil_host", ["evil.example", "EVIL.example:8443", "evil\u00e9.example"])
def test_a_different_host_never_shares_a_page(evil_host: str) -> None:
    env = make_env(_canonical)
    a = _call(env, make_event(headers={"host": evil_host}))
    assert f"https://{normalise_host(evil_host)}/p" in a["body"]  # the keyed host, normalised
    b = _call(env, make_event())
    assert b["body"] == f'<link rel="canonical" href="https://{HOST}/p">'
    assert b["headers"]["x-isr-cache"] == "miss"


def test_host_spellings_of_the_same_host_share_one_page() -> None:
    env = make_env(lambda r: "<p>page</p>")
    _call(env, make_event())
    for spelling in (HOST.upper(), f"{HOST}:443", f"{HOST}."):
        assert _call(env, make_event(headers={"host": spelling}))["headers"]["x-isr-cache"] == "hit"
    assert len(env.renders) == 1


def test_tracking_parameters_share_the_page_and_do_not_fragment_the_cache() -> None:
    env = make_env(lambda r: f"<p>page {r.first('page', '1')}</p>", vary_query=["page"])
    for query in ("utm_source=a", "utm_source=b&gclid=1", "fbclid=x", "", "utm_medium=c&page="):
        r = _call(env, make_event(query=query))
        assert r["statusCode"] == 200
    assert len(env.renders) == 2  # "" and "page=" (an explicit empty value) only
    assert _call(env, make_event(query="page=2&utm_source=z"))["body"] == "<p>page 2</p>"
    assert _call(env, make_event(query="utm_source=q&page=2"))["headers"]["x-isr-cache"] == "hit"
    assert len(env.renders) == 3


@pytest.mark.parametrize("reflect", ["raw_query", "query"])
def test_tracking_parameters_never_reflect_into_someone_elses_page(reflect: str) -> None:
    def face(request: FaceRequest) -> str:
        seen = request.raw_query if reflect == "raw_query" else str(dict(request.query))
        return f"<a href='/p?{seen}'>share</a>"

    env = make_env(face, vary_query=["page"])
    _call(env, make_event(query=f"utm_source={SECRET}&page=2"))
    b = _call(env, make_event(query="page=2"))
    assert SECRET not in b["body"]


def test_head_render_is_never_served_to_a_get() -> None:
    env = make_env(lambda r: "" if r.method == "HEAD" else PUBLIC)
    head = _call(env, make_event(method="HEAD"))
    assert head["body"] == ""
    _assert_b_is_clean(_call(env, make_event()))


def test_head_over_a_stored_page_serves_its_head_only() -> None:
    env = make_env(lambda r: PUBLIC)
    _call(env, make_event())
    head = _call(env, make_event(method="HEAD"))
    assert (head["body"], head["headers"]["x-isr-cache"]) == ("", "hit")
    _assert_b_is_clean(_call(env, make_event()))


@STALE
@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "OPTIONS"])
def test_non_get_requests_are_never_stored_or_served_to_others(method: str, stale: bool) -> None:
    env = make_env(lambda r: f"<p>{r.method} {SECRET}</p>" if r.method != "GET" else PUBLIC)
    if stale:
        _call(env, make_event())
        env.clock.advance(61)
    calls = dict(env.meta.calls)
    event = make_event(method=method)
    event["body"] = f"comment={SECRET}"
    a = _call(env, event)
    assert SECRET in a["body"]
    assert a["headers"]["x-isr-cache"] == "bypass"
    assert env.meta.calls == calls  # the store was not even read
    _assert_b_is_clean(_call(env, make_event()))


@pytest.mark.parametrize(
    ("a_path", "a_query"),
    [
        ("/blog/he%6Clo-world", ""),
        ("/blog//hello-world", ""),
        ("/blog/x/../hello-world", ""),
        ("/blog/hello-world/", ""),
        ("/blog/hello-world", "page=2&page=1"),
    ],
    ids=["percent-encoded", "double-slash", "dot-segments", "trailing-slash", "value-order"],
)
def test_another_spelling_of_the_page_renders_what_the_canonical_request_would(
    a_path: str, a_query: str
) -> None:
    """Requests that share a key must get the same render: the face sees the normalised path
    and sorted allowlisted values, so a variant spelling cannot store a different page (e.g. a
    router's 404) under the canonical page's key."""

    def face(request: FaceRequest) -> Any:
        status = 200 if request.path == "/blog/hello-world" else 404
        return FaceResult(status=status, body=f"{request.path}|{request.first('page')}")

    env = make_env(face, vary_query=["page"])
    a = _call(env, make_event(a_path, query=a_query or "page=1&page=2"))
    b = _call(env, make_event("/blog/hello-world", query="page=1&page=2"))
    assert (b["statusCode"], b["body"]) == (200, "/blog/hello-world|1")
    assert a["body"] == b["body"]
    assert b["headers"]["x-isr-cache"] == "hit"


@STALE
def test_unkeyed_cookies_headers_and_client_ip_never_reach_a_cached_render(stale: bool) -> None:
    """With ``vary_cookies=[]`` cookies are ignored by the key, so the cached render must not
    see them either; nor unkeyed headers (``x-forwarded-host``, ``accept-language``) nor the
    client's IP."""

    def face(request: FaceRequest) -> Any:
        seen = [
            request.cookies.get("name", ""),
            request.headers.get("x-forwarded-host", ""),
            request.headers.get("accept-language", ""),
            request.source_ip,
        ]
        return PUBLIC if not any(seen) else f"{PUBLIC}{'|'.join(seen)}{SECRET}"

    env = make_env(face, vary_cookies=[])
    a_event = make_event(
        headers={"x-forwarded-host": "evil.example", "accept-language": "xx"},
        cookies=[f"name={SECRET}"],
    )
    _assert_b_is_clean(_scenario(env, a_event, make_event(), stale))
    assert _call(env, a_event)["body"] == PUBLIC
