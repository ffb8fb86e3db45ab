"""What matters in template.yaml, checked on the parsed document (sam validate --lint and
sam build run in `make test` too, via `make sam-check`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from lambda_isr.store.dynamodb import DEFAULT_RETENTION_SECONDS
from lambda_isr.store.s3 import DEFAULT_REFRESH_AFTER

ROOT = Path(__file__).resolve().parents[2]


class _CfnLoader(yaml.SafeLoader):
    """YAML loader that keeps CloudFormation short-form tags as ``{"!Tag": value}``."""


def _tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        assert isinstance(node, yaml.MappingNode)
        value = loader.construct_mapping(node, deep=True)
    return {f"!{suffix}": value}


_CfnLoader.add_multi_constructor("!", _tag)


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    loaded = yaml.load((ROOT / "template.yaml").read_text(), Loader=_CfnLoader)
    assert isinstance(loaded, dict)
    return loaded


def resources_of(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


def demo_function(template: dict[str, Any]) -> dict[str, Any]:
    functions = resources_of(template, "AWS::Serverless::Function")
    assert set(functions) == {
        "DemoFunction",
        "RevalidateFunction",
        "RevalidationConsumerFunction",  # tests/deploy/test_template_queue.py
    }
    return functions["DemoFunction"]


def test_function_streams_through_the_layer_wrapper(template: dict[str, Any]) -> None:
    fn = demo_function(template)
    props = fn["Properties"]
    assert props["FunctionUrlConfig"] == {
        "AuthType": {"!If": ["CloudFrontOn", "AWS_IAM", "NONE"]},  # test_template_cloudfront
        "InvokeMode": "RESPONSE_STREAM",
    }
    env = props["Environment"]["Variables"]
    assert env["AWS_LAMBDA_EXEC_WRAPPER"] == "/opt/lambda-isr-wrapper"
    assert env["FACETHEORY_CACHE_TABLE_NAME"] == {"!Ref": "CacheTable"}
    assert env["FACETHEORY_ISR_BUCKET"] == {"!Ref": "HtmlBucket"}
    assert props["Layers"] == [{"!Ref": "LambdaIsrLayer"}]
    runtime = props.get("Runtime", template["Globals"]["Function"]["Runtime"])
    assert runtime == "python3.13"
    assert (ROOT / "layer" / "lambda-isr-wrapper").exists()


def test_layer_is_built_by_the_makefile_and_exported(template: dict[str, Any]) -> None:
    (name, layer), *_ = resources_of(template, "AWS::Serverless::LayerVersion").items()
    assert layer["Metadata"]["BuildMethod"] == "makefile"
    makefile = (ROOT / layer["Properties"]["ContentUri"] / "Makefile").read_text()
    assert f"build-{name}:" in makefile
    assert template["Outputs"]["LayerArn"]["Export"]
    assert {"LayerArn", "FunctionUrl", "TableName", "BucketName"} <= set(template["Outputs"])
    # handler/Makefile builds each
    for function in ("DemoFunction", "RevalidateFunction", "RevalidationConsumerFunction"):
        assert template["Resources"][function]["Metadata"]["BuildMethod"] == "makefile"
        assert f"build-{function}:" in (ROOT / "handler" / "Makefile").read_text()


def test_table_has_the_shared_schema_and_ttl(template: dict[str, Any]) -> None:
    props = template["Resources"]["CacheTable"]["Properties"]
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert {(a["AttributeName"], a["AttributeType"]) for a in props["AttributeDefinitions"]} == {
        ("pk", "S"),
        ("sk", "S"),
    }
    assert {(k["AttributeName"], k["KeyType"]) for k in props["KeySchema"]} == {
        ("pk", "HASH"),
        ("sk", "RANGE"),
    }
    assert props["TimeToLiveSpecification"] == {"AttributeName": "ttl", "Enabled": True}


def test_bucket_is_private_encrypted_and_tls_only(template: dict[str, Any]) -> None:
    props = template["Resources"]["HtmlBucket"]["Properties"]
    assert all(props["PublicAccessBlockConfiguration"].values())
    assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    statements = template["Resources"]["HtmlBucketPolicy"]["Properties"]["PolicyDocument"][
        "Statement"
    ]
    assert any(
        s["Effect"] == "Deny" and s["Condition"]["Bool"]["aws:SecureTransport"] == "false"
        for s in statements
    )


def test_iam_is_least_privilege(template: dict[str, Any]) -> None:
    fn = demo_function(template)
    statements = [s for policy in fn["Properties"]["Policies"] for s in policy["Statement"]]
    actions = {
        a
        for s in statements
        for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
    }
    assert actions == {
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
        "s3:GetObject",
        "s3:PutObject",
        "s3:ListBucket",
    }
    assert not any("*" in a for a in actions)
    by_sid = {s["Sid"]: s for s in statements}
    assert by_sid["IsrMetadataAndLeases"]["Resource"] == {"!GetAtt": "CacheTable.Arn"}
    assert by_sid["IsrHtmlObjects"]["Resource"] == {"!Sub": "${HtmlBucket.Arn}/${HtmlPrefix}/*"}
    assert by_sid["MissingObjectsAnswer404Not403"]["Condition"]["StringLike"]["s3:prefix"]


def test_lifecycle_never_outruns_live_metadata(template: dict[str, Any]) -> None:
    """HTML objects expire by age only, under the prefix. A commit reuses an object without
    refreshing it only while it is younger than ``refresh_after``, so the object outlives that
    commit by at least ``expiry - refresh_after``, which must cover the META item's retention
    plus a margin for DynamoDB's TTL lag (see README, "HTML object cleanup")."""
    rules = template["Resources"]["HtmlBucket"]["Properties"]["LifecycleConfiguration"]["Rules"]
    expiring = [r for r in rules if "ExpirationInDays" in r]
    assert len(expiring) == 1
    assert expiring[0]["Prefix"] == {"!Sub": "${HtmlPrefix}/"}
    assert expiring[0]["ExpirationInDays"] == {"!Ref": "HtmlRetentionDays"}
    days = template["Parameters"]["HtmlRetentionDays"]
    shortest_expiry = days["MinValue"] * 86_400
    ttl_lag_margin = 3 * 86_400
    assert shortest_expiry - DEFAULT_REFRESH_AFTER >= DEFAULT_RETENTION_SECONDS + ttl_lag_margin
    assert days["Default"] >= days["MinValue"]
