"""The origin behind the two-origin CloudFront: what the CDN may keep, OAC's SigV4 headers, and
the CDN purge of an on-demand revalidation (against moto's CloudFront)."""

from __future__ import annotations

import importlib
import logging
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest

import lambda_isr.cloudfront
from lambda_isr import FaceRequest, invalidate
from lambda_isr.cloudfront import ENV_DISTRIBUTION, MAX_WILDCARD_PATHS, cdn_paths, purge_cdn
from lambda_isr.http.request import parse_event
from lambda_isr.isr.config import KeyConfig, TrailingSlash
from lambda_isr.isr.keys import build_key, page_key
from lambda_isr.store.contract import Store
from tests.app.helpers import HOST, AppEnv, make_app
from tests.support.events import make_event

HANDLER_DIR = Path(__file__).resolve().parents[2] / "handler"
SIGV4 = {
    "authorization": "AWS4-HMAC-SHA256 Credential=ASIAEXAMPLE/20261201/us-east-1/lambda/"
    "aws4_request, SignedHeaders=host;x-amz-date, Signature=0123abcd",
    "x-amz-date": "20261201T000000Z",
    "x-amz-security-token": "IQoJb3JpZ2luX2VjEXAMPLE",
    "x-amz-content-sha256": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
}
CLOUDFRONT_IAM = {
    "accessKey": "ASIAEXAMPLE",
    "accountId": "123456789012",
    "callerId": "AROAEXAMPLE:cloudfront",
    "cognitoIdentity": None,
    "principalOrgId": None,
    "userArn": "arn:aws:sts::123456789012:assumed-role/cloudfront/session",
    "userId": "AROAEXAMPLE:cloudfront",
}


def signed_event(path: str = "/page", **kwargs: Any) -> dict[str, Any]:
    """A request as a Function URL with AuthType AWS_IAM receives it from CloudFront's OAC."""
    event = make_event(path, headers=dict(SIGV4), **kwargs)
    event["requestContext"]["authorizer"] = {"iam": dict(CLOUDFRONT_IAM)}
    return event


def page_app(**options: Any) -> AppEnv:
    env = make_app()

    @env.app.face("/page", revalidate=60, **options)
    def page(request: FaceRequest) -> str:
        return "<p>page</p>"

    return env


# --- what the CDN may keep ------------------------------------------------------------------


def test_an_unvaried_hit_is_cdn_cacheable() -> None:
    env = page_app(vary_cookies=[])
    env.get("/page")
    hit = env.get("/page", cookies=["_ga=1"])
    assert hit["headers"]["x-isr-cache"] == "hit"
    assert hit["headers"]["cache-control"].startswith("public, max-age=0, s-maxage=")


@pytest.mark.parametrize(
    ("options", "request_kwargs"),
    [
        ({"vary_headers": ["x-theme"]}, {"headers": {"x-theme": "dark"}}),
        ({"vary_cookies": ["theme"]}, {"cookies": ["theme=dark"]}),
    ],
    ids=["header", "cookie"],
)
def test_a_header_or_cookie_varied_page_is_never_cdn_cacheable(
    options: dict[str, Any], request_kwargs: dict[str, Any]
) -> None:
    env = page_app(**options)
    env.get("/page", **request_kwargs)
    hit = env.get("/page", **request_kwargs)
    assert hit["headers"]["x-isr-cache"] == "hit"  # still cached by the origin, per variant
    control = hit["headers"]["cache-control"]
    assert control.startswith("private"), control
    assert "s-maxage" not in control
    assert "public" not in hit["headers"].get("cdn-cache-control", "")


# --- origin access control's SigV4 headers ---------------------------------------------------


def test_oac_signature_headers_neither_bypass_nor_change_the_key() -> None:
    config = KeyConfig(vary_cookies=())
    plain = build_key(parse_event(make_event("/page")), config)
    signed = build_key(parse_event(signed_event()), config)
    assert signed.bypass_reason is None
    assert signed.key == plain.key
    assert not {"authorization", "x-amz-date", "x-amz-security-token"} & set(
        parse_event(signed_event()).headers
    )


def test_a_signed_request_is_served_the_cached_page() -> None:
    env = page_app(vary_cookies=[])
    assert env.app(signed_event(), None)["headers"]["x-isr-cache"] == "miss"
    again = env.app(signed_event(), None)
    assert again["headers"]["x-isr-cache"] == "hit"
    assert env.meta.committed == [page_key("/page", host=HOST)]


def test_viewer_credentials_without_oac_still_bypass() -> None:
    """Without ``requestContext.authorizer.iam`` (a public URL), ``authorization`` is the
    viewer's own credential: the page is rendered uncached, as before."""
    env = page_app(vary_cookies=[])
    event = make_event("/page", headers=dict(SIGV4))
    assert env.app(event, None)["headers"]["x-isr-cache"] == "bypass"
    assert build_key(parse_event(event), KeyConfig()).bypass_reason == "credentials"


# --- CloudFront purge -----------------------------------------------------------------------


@pytest.fixture
def cloudfront(moto_aws: None) -> Any:
    return boto3.client("cloudfront", region_name="us-east-1")


def create_distribution(client: Any) -> str:
    answer = client.create_distribution(
        DistributionConfig={
            "CallerReference": "test",
            "Comment": "",
            "Enabled": True,
            "Origins": {
                "Quantity": 1,
                "Items": [
                    {
                        "Id": "fn",
                        "DomainName": HOST,
                        "CustomOriginConfig": {
                            "HTTPPort": 80,
                            "HTTPSPort": 443,
                            "OriginProtocolPolicy": "https-only",
                        },
                    }
                ],
            },
            "DefaultCacheBehavior": {
                "TargetOriginId": "fn",
                "ViewerProtocolPolicy": "redirect-to-https",
                "MinTTL": 0,
            },
        }
    )
    return str(answer["Distribution"]["Id"])


def invalidations(client: Any, distribution: str) -> list[dict[str, Any]]:
    listed = client.list_invalidations(DistributionId=distribution)["InvalidationList"]
    out = []
    for item in listed.get("Items", []):
        found = client.get_invalidation(DistributionId=distribution, Id=item["Id"])
        out.append(found["Invalidation"]["InvalidationBatch"])
    return out


def test_cdn_paths_are_normalised_wildcards() -> None:
    assert cdn_paths(["/posts/a", "/posts//a/", "/", "/x y", "/a*b", "/posts/a"]) == (
        "/posts/a*",
        "/*",
        "/x%20y*",
        "/a%2Ab*",
    )
    assert cdn_paths(["/docs/"], TrailingSlash.KEEP) == ("/docs/*",)


def test_invalidate_purges_the_store_then_the_cdn(
    cloudfront: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    distribution = create_distribution(cloudfront)
    monkeypatch.setenv(ENV_DISTRIBUTION, distribution)
    env = page_app(vary_cookies=[])
    env.get("/page")
    store = Store(env.meta, env.html)
    result = invalidate(["/page", "/never"], host=HOST, store=store, cloudfront=cloudfront)
    assert result == {"/page": True, "/never": False}  # still the plain mapping
    assert result.cdn is not None
    assert result.cdn.ok
    assert result.cdn.paths == ("/page*", "/never*")
    assert len(result.cdn.invalidations) == 1
    (batch,) = invalidations(cloudfront, distribution)
    assert batch["Paths"]["Items"] == ["/page*", "/never*"]
    assert env.get("/page")["headers"]["x-isr-cache"] in ("miss", "stale")  # soft purge


def test_without_a_distribution_nothing_reaches_the_cdn(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_DISTRIBUTION, raising=False)

    class Refuses:
        def create_invalidation(self, **kwargs: Any) -> Any:
            raise AssertionError("no distribution is configured")

    env = page_app()
    result = invalidate(["/page"], host=HOST, store=Store(env.meta, env.html), cloudfront=Refuses())
    assert result.cdn is None
    assert purge_cdn(["/page"], client=Refuses()) is None


def test_paths_are_batched_within_the_wildcard_limit(cloudfront: Any) -> None:
    distribution = create_distribution(cloudfront)
    paths = [f"/posts/{n}" for n in range(2 * MAX_WILDCARD_PATHS + 5)]
    result = purge_cdn(paths, distribution_id=distribution, client=cloudfront)
    assert result is not None
    assert result.ok
    assert len(result.invalidations) == 3
    batches = invalidations(cloudfront, distribution)
    sizes = sorted(b["Paths"]["Quantity"] for b in batches)
    assert sizes == [5, MAX_WILDCARD_PATHS, MAX_WILDCARD_PATHS]
    sent = sorted(item for b in batches for item in b["Paths"]["Items"])
    assert sent == sorted(f"{p}*" for p in paths)


def test_the_caller_reference_is_idempotent_per_purge(cloudfront: Any) -> None:
    distribution = create_distribution(cloudfront)
    for _ in range(2):  # a retried purge (same message id) sends the same reference
        purge_cdn(["/a", "/b"], distribution_id=distribution, client=cloudfront, reference="m-1")
    purge_cdn(["/a", "/b"], distribution_id=distribution, client=cloudfront)  # a new purge
    purge_cdn(["/a", "/b"], distribution_id=distribution, client=cloudfront)  # and another
    references = [b["CallerReference"] for b in invalidations(cloudfront, distribution)]
    assert len(references) == 4
    retried = [r for r in references if "-m-1-" in r]
    assert len(retried) == 2
    assert len(set(retried)) == 1
    assert len(set(references)) == 3


def test_a_cdn_failure_is_logged_and_reported_never_raised(
    cloudfront: Any, caplog: pytest.LogCaptureFixture
) -> None:
    env = page_app(vary_cookies=[])
    env.get("/page")
    caplog.set_level(logging.WARNING, logger="lambda_isr.cloudfront")
    result = invalidate(
        ["/page"],
        host=HOST,
        store=Store(env.meta, env.html),
        distribution_id="ENOSUCHDIST",
        cloudfront=cloudfront,
    )
    assert result == {"/page": True}  # the store purge happened
    assert result.cdn is not None
    assert not result.cdn.ok
    assert result.cdn.invalidations == ()
    (error,) = result.cdn.errors
    assert "NoSuchDistribution" in error
    assert "ENOSUCHDIST" in caplog.text
    assert "/page*" in caplog.text


# --- the demo's purging function ------------------------------------------------------------


@pytest.fixture
def revalidate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    monkeypatch.setenv("LAMBDA_ISR_DIR", str(tmp_path / "store"))
    monkeypatch.delenv("FACETHEORY_CACHE_TABLE_NAME", raising=False)
    monkeypatch.setenv("LAMBDA_ISR_SITE_HOST", HOST)
    monkeypatch.setattr(lambda_isr.cloudfront, "_client", None)  # none left over
    monkeypatch.syspath_prepend(str(HANDLER_DIR))
    sys.modules.pop("revalidate", None)
    yield importlib.import_module("revalidate")
    sys.modules.pop("revalidate", None)


def test_the_demo_revalidate_function(
    revalidate: ModuleType, cloudfront: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    distribution = create_distribution(cloudfront)
    monkeypatch.setenv(ENV_DISTRIBUTION, distribution)

    class Context:
        aws_request_id = "req-1"

    answer = revalidate.handler({"paths": ["/posts/hello-world"]}, Context())
    assert answer["ok"] is True
    assert answer["purged"] == {"/posts/hello-world": False}
    assert answer["cdn"]["paths"] == ["/posts/hello-world*"]
    assert answer["cdn"]["errors"] == []
    (batch,) = invalidations(cloudfront, distribution)
    assert "-req-1-" in batch["CallerReference"]
    assert revalidate.handler({"paths": "/x"}, Context())["ok"] is False
    monkeypatch.delenv(ENV_DISTRIBUTION)
    expected = {"ok": True, "purged": {"/": False}, "cdn": None}
    assert revalidate.handler({"paths": ["/"]}, None) == expected
