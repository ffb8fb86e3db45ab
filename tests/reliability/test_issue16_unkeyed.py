"""Issue 16, items 2 and 9: nothing unkeyed, and nothing per request, reaches a cached render.

A cached render sees only what its key is made of: not a GET body, not the tenant headers (only
the tenant rule's value, as ``request.tenant``), the host normalised as the key has it, and
neither the Function URL request id nor the invocation's Lambda request id. Each case: the first
requester tries to put something into the page; the next requester of the same key gets a
``hit`` of a page that holds none of it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from lambda_isr.http.request import FaceRequest
from lambda_isr.isr.keys import page_key
from tests.isr.helpers import HOST, FakeContext, key_for, make_env
from tests.support.events import make_event

pytestmark = pytest.mark.timeout(30)


def _call(env: Any, event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    result: dict[str, Any] = env.face(event, context or FakeContext())
    return result


def _with_body(event: dict[str, Any], body: str) -> dict[str, Any]:
    return event | {"body": body, "isBase64Encoded": False}


def test_a_get_body_never_reaches_the_cached_render() -> None:
    env = make_env(lambda r: f"<p>body: {r.body.decode()}</p>")
    poisoned = _call(env, _with_body(make_event(), "<script>steal()</script>"))
    assert poisoned["body"] == "<p>body: </p>"
    victim = _call(env, make_event())
    assert (victim["headers"]["x-isr-cache"], victim["body"]) == ("hit", "<p>body: </p>")
    post = _call(env, _with_body(make_event(method="POST"), "form=1"))
    assert post["body"] == "<p>body: form=1</p>"  # uncached requests see the whole request


def _reflect_tenant(r: FaceRequest) -> str:
    return (
        f"<p>Welcome {r.tenant} / {r.headers.get('x-tenant-id')}"
        f" / {r.headers.get('x-facetheory-tenant')}</p>"
    )


@pytest.mark.parametrize(
    ("rule", "attacker", "victim", "tenant"),
    [
        (  # the rule lowercases: a raw header value would have reached everyone's page
            lambda r: (r.headers.get("x-tenant-id") or "").lower() or None,
            {"x-tenant-id": "ACME", "x-facetheory-tenant": "<script>x</script>"},
            {"x-tenant-id": "acme"},
            "acme",
        ),
        (  # a host-based rule: any client-sent tenant header is unkeyed
            lambda r: r.host.split(".")[0],
            {"x-facetheory-tenant": "<script>x</script>", "x-tenant-id": "evil"},
            {},
            HOST.split(".")[0],
        ),
        (  # the rule keys x-tenant-id: x-facetheory-tenant is unkeyed
            lambda r: r.headers.get("x-tenant-id"),
            {"x-tenant-id": "acme", "x-facetheory-tenant": "<script>x</script>"},
            {"x-tenant-id": "acme"},
            "acme",
        ),
    ],
    ids=["lowercasing-rule", "host-rule", "one-header-rule"],
)
def test_tenant_headers_never_reach_the_cached_render(
    rule: Callable[[FaceRequest], str | None],
    attacker: dict[str, str],
    victim: dict[str, str],
    tenant: str,
) -> None:
    env = make_env(_reflect_tenant, tenant=rule)
    first = _call(env, make_event(headers=attacker))
    assert first["body"] == f"<p>Welcome {tenant} / None / None</p>"
    served = _call(env, make_event(headers=victim))
    assert (served["headers"]["x-isr-cache"], served["body"]) == ("hit", first["body"])
    assert "script" not in served["body"]


def test_a_tenant_header_that_is_keyed_itself_may_be_seen() -> None:
    env = make_env(
        _reflect_tenant,
        tenant=lambda r: r.headers.get("x-tenant-id"),
        vary_headers=["x-tenant-id"],
    )
    assert _call(env, make_event(headers={"x-tenant-id": "acme"}))["body"] == (
        "<p>Welcome acme / acme / None</p>"
    )


def test_a_rule_returning_default_never_shares_pages_with_no_tenant() -> None:
    env = make_env(_reflect_tenant, tenant=lambda r: r.headers.get("x-tenant-id"))
    tenant_default = _call(env, make_event(headers={"x-tenant-id": "default"}))
    assert tenant_default["body"] == "<p>Welcome default / None / None</p>"
    nobody = _call(env, make_event())
    assert (nobody["headers"]["x-isr-cache"], nobody["body"]) == (
        "miss",
        "<p>Welcome None / None / None</p>",
    )
    keys = sorted(r.cache_key for r in env.meta.inner._records.values())
    assert keys == sorted([key_for(), page_key("/blog/hello-world", host=HOST, tenant="default")])
    assert page_key("/blog/hello-world", host=HOST, tenant="default") != key_for()
    assert page_key("/blog/hello-world", host=HOST, tenant=None) == key_for()


@pytest.mark.parametrize(
    "spelling", [f"{HOST}:80", f"{HOST}:443", HOST.upper(), f"{HOST}.", f"{HOST.upper()}.:443"]
)
def test_the_cached_render_sees_the_normalised_host(spelling: str) -> None:
    env = make_env(lambda r: f'<link rel="canonical" href="https://{r.host}/p">')
    first = _call(env, make_event(headers={"host": spelling}))
    assert first["body"] == f'<link rel="canonical" href="https://{HOST}/p">'
    again = _call(env, make_event())
    assert (again["headers"]["x-isr-cache"], again["body"]) == ("hit", first["body"])


def _reflect_ids(r: FaceRequest) -> str:
    remaining = r.context.get_remaining_time_in_millis() if r.context is not None else None
    function = getattr(r.context, "function_name", None)
    return (
        f"<p>id={r.request_id!r} lambda={r.lambda_request_id!r} fn={function} left={remaining}</p>"
    )


def test_per_request_ids_never_reach_a_cached_page() -> None:
    env = make_env(_reflect_ids)
    first = _call(env, make_event(request_id="furl-A"), FakeContext(aws_request_id="lambda-A"))
    assert first["headers"]["x-request-id"] == "furl-A"  # the answer still names its request
    assert first["body"] == "<p>id='' lambda='' fn=isr-fn left=30000</p>"
    second = _call(env, make_event(request_id="furl-B"), FakeContext(aws_request_id="lambda-B"))
    assert (second["headers"]["x-isr-cache"], second["body"]) == ("hit", first["body"])
    assert second["headers"]["x-request-id"] == "furl-B"
    custom_key = make_env(_reflect_ids, key=lambda r: "one-page")
    page = _call(custom_key, make_event(request_id="furl-C"), FakeContext(aws_request_id="l-C"))
    assert "furl-C" not in page["body"]
    assert "l-C" not in page["body"]


def test_uncached_renders_still_see_their_own_request() -> None:
    env = make_env(_reflect_ids)
    post = _call(
        env, make_event(method="POST", request_id="furl-P"), FakeContext(aws_request_id="lam-P")
    )
    assert post["body"] == "<p>id='furl-P' lambda='lam-P' fn=isr-fn left=30000</p>"
