"""The two-origin deployment, on the template SAM translates (as ``sam validate`` does) for each
value of the ``CloudFront`` parameter: origins, origin access controls, the URL's auth type,
the invoke permissions, the bucket policy, the cache and origin request policies, the purging
function, and no dependency cycle."""

from __future__ import annotations

from typing import Any

import pytest

from tests.deploy.cfn import ROOT, dependency_order, of_type, translate

ALL_VIEWER_EXCEPT_HOST = "b689b0a8-53d0-40ab-baf2-68738e2966ac"
CACHING_OPTIMIZED = "658327ea-f89d-4fab-a63d-7e88639e58f6"
DISTRIBUTION_ARN = {
    "Fn::Sub": "arn:${AWS::Partition}:cloudfront::${AWS::AccountId}:distribution/${Distribution}"
}


@pytest.fixture(scope="module")
def enabled() -> dict[str, Any]:
    return translate({"CloudFront": "Enabled"})


@pytest.fixture(scope="module")
def disabled() -> dict[str, Any]:
    return translate({"CloudFront": "Disabled"})


def url_of(cfn: dict[str, Any]) -> dict[str, Any]:
    urls = of_type(cfn, "AWS::Lambda::Url")
    props: dict[str, Any] = urls["DemoFunctionUrl"]["Properties"]
    assert props["TargetFunctionArn"] == {"Ref": "DemoFunction"}
    return props


def permissions(cfn: dict[str, Any]) -> list[dict[str, Any]]:
    found = of_type(cfn, "AWS::Lambda::Permission").values()
    demo = {"Ref": "DemoFunction"}
    return [p["Properties"] for p in found if p["Properties"]["FunctionName"] == demo]


def role_actions(cfn: dict[str, Any], function: str) -> dict[str, Any]:
    role = cfn["Resources"][f"{function}Role"]["Properties"]
    out: dict[str, Any] = {}
    for policy in role.get("Policies", []):
        for statement in policy["PolicyDocument"]["Statement"]:
            actions = statement["Action"]
            for action in [actions] if isinstance(actions, str) else actions:
                out[action] = statement["Resource"]
    return out


def test_the_default_is_cloudfront_in_front() -> None:
    assert translate({}) == translate({"CloudFront": "Enabled"})


def test_two_origins_behind_origin_access_controls(enabled: dict[str, Any]) -> None:
    (dist,) = of_type(enabled, "AWS::CloudFront::Distribution").values()
    config = dist["Properties"]["DistributionConfig"]
    assert config["HttpVersion"] == "http2and3"
    origins = {o["Id"]: o for o in config["Origins"]}
    assert set(origins) == {"function-url", "assets"}
    fn = origins["function-url"]
    assert fn["DomainName"] == {
        "Fn::Select": [2, {"Fn::Split": ["/", {"Fn::GetAtt": ["DemoFunctionUrl", "FunctionUrl"]}]}]
    }
    assert fn["CustomOriginConfig"]["OriginProtocolPolicy"] == "https-only"
    assert fn["OriginAccessControlId"] == {"Fn::GetAtt": ["FunctionOriginAccessControl", "Id"]}
    assets = origins["assets"]
    assert assets["DomainName"] == {"Fn::GetAtt": ["AssetsBucket", "RegionalDomainName"]}
    assert assets["OriginAccessControlId"] == {"Fn::GetAtt": ["AssetsOriginAccessControl", "Id"]}
    assert assets["S3OriginConfig"] == {"OriginAccessIdentity": ""}  # OAC, not the legacy OAI
    oacs = of_type(enabled, "AWS::CloudFront::OriginAccessControl")
    kinds = {
        name: (c["OriginAccessControlOriginType"], c["SigningBehavior"], c["SigningProtocol"])
        for name, o in oacs.items()
        for c in [o["Properties"]["OriginAccessControlConfig"]]
    }
    assert kinds == {
        "FunctionOriginAccessControl": ("lambda", "always", "sigv4"),
        "AssetsOriginAccessControl": ("s3", "always", "sigv4"),
    }


def test_behaviours_compress_at_the_edge(enabled: dict[str, Any]) -> None:
    (dist,) = of_type(enabled, "AWS::CloudFront::Distribution").values()
    config = dist["Properties"]["DistributionConfig"]
    default = config["DefaultCacheBehavior"]
    assert default["TargetOriginId"] == "function-url"
    assert default["Compress"] is True
    assert default["CachePolicyId"] == {"Ref": "PageCachePolicy"}
    assert default["OriginRequestPolicyId"] == ALL_VIEWER_EXCEPT_HOST
    assert {"GET", "HEAD", "POST", "PUT"} <= set(default["AllowedMethods"])
    assert default["CachedMethods"] == ["GET", "HEAD"]
    (assets,) = config["CacheBehaviors"]
    assert assets["PathPattern"] == "/assets/*"
    assert assets["TargetOriginId"] == "assets"
    assert assets["CachePolicyId"] == CACHING_OPTIMIZED
    assert assets["Compress"] is True
    assert assets["AllowedMethods"] == ["GET", "HEAD"]


def test_the_page_cache_policy_keys_on_path_and_query_only(enabled: dict[str, Any]) -> None:
    (policy,) = of_type(enabled, "AWS::CloudFront::CachePolicy").values()
    config = policy["Properties"]["CachePolicyConfig"]
    assert (config["MinTTL"], config["DefaultTTL"], config["MaxTTL"]) == (0, 0, 365 * 86_400)
    key = config["ParametersInCacheKeyAndForwardedToOrigin"]
    assert key["HeadersConfig"] == {"HeaderBehavior": "none"}  # Host never reaches the key
    assert key["CookiesConfig"] == {"CookieBehavior": "none"}
    assert key["QueryStringsConfig"] == {"QueryStringBehavior": "all"}
    assert "host" not in repr(config).lower()
    assert key["EnableAcceptEncodingGzip"]  # needed by Compress with a custom policy
    assert key["EnableAcceptEncodingBrotli"]
    assert not of_type(enabled, "AWS::CloudFront::OriginRequestPolicy")  # the managed one


def test_only_the_distribution_may_invoke_the_url(enabled: dict[str, Any]) -> None:
    assert url_of(enabled) == {
        "TargetFunctionArn": {"Ref": "DemoFunction"},
        "AuthType": "AWS_IAM",
        "InvokeMode": "RESPONSE_STREAM",
    }
    found = {p["Action"]: p for p in permissions(enabled)}
    assert set(found) == {"lambda:InvokeFunctionUrl", "lambda:InvokeFunction"}
    for permission in found.values():
        assert permission["Principal"] == "cloudfront.amazonaws.com"
        assert permission["SourceArn"] == DISTRIBUTION_ARN
    assert found["lambda:InvokeFunctionUrl"]["FunctionUrlAuthType"] == "AWS_IAM"


def test_the_assets_bucket_is_private_to_the_distribution(enabled: dict[str, Any]) -> None:
    bucket = enabled["Resources"]["AssetsBucket"]["Properties"]
    assert all(bucket["PublicAccessBlockConfiguration"].values())
    policy = enabled["Resources"]["AssetsBucketPolicy"]["Properties"]
    assert policy["Bucket"] == {"Ref": "AssetsBucket"}
    allows = [s for s in policy["PolicyDocument"]["Statement"] if s["Effect"] == "Allow"]
    assert {s["Action"] for s in allows} == {"s3:GetObject", "s3:ListBucket"}
    for statement in allows:
        assert statement["Principal"] == {"Service": "cloudfront.amazonaws.com"}
        assert statement["Condition"] == {"StringEquals": {"AWS:SourceArn": DISTRIBUTION_ARN}}
    (get,) = [s for s in allows if s["Action"] == "s3:GetObject"]
    assert get["Resource"] == {"Fn::Sub": "${AssetsBucket.Arn}/*"}


def test_the_purging_function_gets_the_distribution_without_a_cycle(
    enabled: dict[str, Any],
) -> None:
    revalidate = enabled["Resources"]["RevalidateFunction"]["Properties"]
    env = revalidate["Environment"]["Variables"]
    assert env["LAMBDA_ISR_CLOUDFRONT_DISTRIBUTION_ID"] == {"Ref": "Distribution"}
    actions = role_actions(enabled, "RevalidateFunction")
    assert actions == {
        "dynamodb:UpdateItem": {"Fn::GetAtt": ["CacheTable", "Arn"]},
        "cloudfront:CreateInvalidation": DISTRIBUTION_ARN,
        "sqs:SendMessage": {"Fn::GetAtt": ["RevalidationQueue", "Arn"]},  # revalidate_async
    }
    demo_env = enabled["Resources"]["DemoFunction"]["Properties"]["Environment"]["Variables"]
    assert "Distribution" not in repr(demo_env)  # URL -> distribution -> function: a cycle
    order = dependency_order(enabled)
    assert order.index("DemoFunctionUrl") < order.index("Distribution")
    assert order.index("Distribution") < order.index("RevalidateFunction")
    outputs = enabled["Outputs"]
    assert outputs["DistributionDomainName"]["Value"] == {
        "Fn::GetAtt": ["Distribution", "DomainName"]
    }
    assert outputs["AssetsBucketName"]["Value"] == {"Ref": "AssetsBucket"}


def test_disabled_keeps_the_public_function_url(disabled: dict[str, Any]) -> None:
    for kind in ("Distribution", "OriginAccessControl", "CachePolicy"):
        assert not of_type(disabled, f"AWS::CloudFront::{kind}")
    assert "AssetsBucket" not in disabled["Resources"]
    assert url_of(disabled)["AuthType"] == "NONE"
    found = {p["Action"]: p for p in permissions(disabled)}
    assert set(found) == {"lambda:InvokeFunctionUrl", "lambda:InvokeFunction"}
    assert all(p["Principal"] == "*" for p in found.values())
    assert found["lambda:InvokeFunctionUrl"]["FunctionUrlAuthType"] == "NONE"
    assert found["lambda:InvokeFunction"]["InvokedViaFunctionUrl"] is True
    revalidate = disabled["Resources"]["RevalidateFunction"]["Properties"]
    assert "LAMBDA_ISR_CLOUDFRONT_DISTRIBUTION_ID" not in revalidate["Environment"]["Variables"]
    assert set(role_actions(disabled, "RevalidateFunction")) == {
        "dynamodb:UpdateItem",
        "sqs:SendMessage",
    }
    assert not {"DistributionDomainName", "AssetsBucketName"} & set(disabled["Outputs"])
    assert "Distribution" not in repr(disabled)
    dependency_order(disabled)  # no cycle


def test_functions_ship_the_manifest_not_the_assets() -> None:
    """Both functions are built by handler/Makefile: the Vite manifest goes into the function,
    the built assets go to the bucket (publish-assets), node_modules goes nowhere."""
    makefile = (ROOT / "handler" / "Makefile").read_text()
    build = makefile.split("build-DemoFunction:", 1)[1].split("\n\n", 1)[0]
    assert "$(MANIFEST)" in build
    assert "dist/assets" not in build
    assert "node_modules" not in build
    assert "build-RevalidateFunction:" in makefile
    assert "build_in_source = true" in (ROOT / "samconfig.toml").read_text()
