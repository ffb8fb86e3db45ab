"""What is never cached, and which requests share a page."""

from __future__ import annotations

from typing import Any

from lambda_isr.http.request import FaceRequest
from lambda_isr.http.response import FaceResult
from tests.isr.helpers import key_for, make_env, stream
from tests.support.events import load_event, make_event


def _stored(env: Any) -> bool:
    return bool(env.meta.calls.get("commit", 0) > 0)


def test_post_is_rendered_and_passed_through_without_the_store() -> None:
    seen: list[bytes] = []

    def face(request: FaceRequest) -> str:
        seen.append(request.body)
        return "<p>thanks</p>"

    env = make_env(face)
    reply = stream(env, load_event("post-body"))
    assert reply.body == b"<p>thanks</p>"
    assert seen == [b"name=Ada&message=hello+%E2%9C%93"]
    assert reply.headers["x-isr-cache"] == "bypass"
    assert reply.headers["cache-status"] == "lambda-isr; fwd=method"
    assert reply.headers["cache-control"] == "private, no-cache"
    assert env.meta.calls == {}


def _result(**kwargs: Any) -> Any:
    return lambda request: FaceResult(body="<p>x</p>", **kwargs)


def test_uncacheable_renders_are_streamed_but_not_stored() -> None:
    cases = {
        "status-500": _result(status=500),
        "status-302": _result(status=302, headers={"location": "/x"}),
        "set-cookie": _result(cookies=["sid=1; HttpOnly"]),
        "cache-control-private": _result(headers={"cache-control": "private, max-age=5"}),
        "cache-control-no-store": _result(headers={"cache-control": "no-store"}),
    }
    for reason, face in cases.items():
        env = make_env(face)
        reply = stream(env, load_event("get"))
        assert reply.body == b"<p>x</p>", reason
        assert reply.headers["x-isr-cache"] == "miss"
        assert "stored" not in reply.headers["cache-status"], reason
        assert not _stored(env), reason
        assert env.summaries()[-1]["detail"] == reason
        # The lease became a hit-for-pass marker (issue 16, item 1): released, never queued on.
        assert (env.meta.calls["mark"], env.meta.calls.get("release")) == (1, None), reason
    env = make_env(_result(headers={"cache-control": "no-store"}))
    assert stream(env, load_event("get")).headers["cache-control"] == "no-store"
    env = make_env(_result(cookies=["sid=1"]))
    assert stream(env, load_event("get")).cookies == ["sid=1"]


def test_cacheable_404_is_stored_with_its_status_and_headers() -> None:
    env = make_env(
        _result(status=404, headers={"content-language": "en", "x-frame-options": "DENY"})
    )
    stream(env, load_event("get"))
    hit = stream(env, load_event("get"))
    assert (hit.status, hit.headers["x-isr-cache"]) == (404, "hit")
    assert hit.headers["content-language"] == "en"
    assert hit.headers["x-frame-options"] == "DENY"


def test_oversize_body_streams_but_is_not_stored() -> None:
    env = make_env(lambda request: iter(["0123456789", "abcdef"]), max_body_bytes=12)
    reply = stream(env, load_event("get"))
    assert reply.body == b"0123456789abcdef"
    assert not _stored(env)
    assert env.summaries()[-1]["detail"] == "oversize"


def test_tenant_header_without_rule_fails_closed() -> None:
    env = make_env()
    reply = stream(env, load_event("tenant-header"))
    assert reply.status == 500
    assert reply.headers["cache-control"] == "no-store"
    assert env.renders == []
    assert env.meta.calls == {}


def test_tenant_rule_separates_tenants() -> None:
    env = make_env(tenant=lambda request: request.headers.get("x-tenant-id"))
    stream(env, load_event("tenant-header"))
    stream(env, load_event("get"))
    assert env.meta.inner.get(key_for().replace("default::", "acme::")) is not None
    assert env.meta.inner.get(key_for()) is not None
    assert len(env.renders) == 2


def test_hosts_never_share_pages() -> None:
    env = make_env()
    stream(env, load_event("get"))
    other = stream(env, load_event("other-host"))
    assert other.headers["x-isr-cache"] == "miss"
    assert env.meta.inner.get(key_for(host="www.example.com")) is not None


def test_tracking_params_do_not_vary_and_allowlisted_do() -> None:
    env = make_env(vary_query=["page"])
    stream(env, load_event("query-tracking"))
    assert env.meta.inner.get(key_for("/blog/hello-world?page=2&page=3")) is not None
    again = stream(env, make_event(query="utm_source=x&page=3&page=2&gclid=1"))
    assert again.headers["x-isr-cache"] == "hit"
    other = stream(env, make_event(query="page=4"))
    assert other.headers["x-isr-cache"] == "miss"


def test_path_normalisation_shares_one_page() -> None:
    env = make_env()
    stream(env, load_event("path-dot-segments"))
    assert env.meta.inner.get(key_for()) is not None
    assert stream(env, load_event("get")).headers["x-isr-cache"] == "hit"


def test_credentials_and_cookies_bypass_unless_varied() -> None:
    env = make_env()
    for name in ("authorization", "cookies"):
        reply = stream(env, load_event(name))
        assert reply.headers["x-isr-cache"] == "bypass", name
    assert env.meta.calls == {}
    varied = make_env(vary_cookies=["session"], vary_headers=["authorization"])
    stream(varied, load_event("cookies"))
    stream(varied, load_event("authorization"))
    keys = list(varied.meta.inner._records)
    assert len(keys) == 2
    assert all("s3cr3t" not in key for key in keys)
    hit = stream(varied, make_event(cookies=["session=s3cr3t", "_ga=1"]))
    assert hit.headers["x-isr-cache"] == "hit"
    assert stream(varied, make_event(cookies=["session=other"])).headers["x-isr-cache"] == "miss"


def test_request_id_header_is_kept_when_sane() -> None:
    env = make_env()
    assert stream(env, load_event("request-id")).headers["x-request-id"] == "client-trace-42"
    bad = stream(env, make_event(headers={"x-request-id": "bad id\twith spaces"}))
    assert bad.headers["x-request-id"] == "11111111-0000-4000-8000-000000000001"
