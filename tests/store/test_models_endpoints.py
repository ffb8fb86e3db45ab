"""The trimmed ``endpoints.json`` keeps a few services of every partition: endpoints resolve as
with botocore's own file, FIPS and dual-stack included (it counts as botocore's own data, so the
endpoint rules are not handed its endpoint as an override)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import botocore
import botocore.config
import botocore.session
import pytest

from lambda_isr.store import _aws
from lambda_isr.store._models import models_dir
from tests.store import wire


@pytest.fixture(scope="module")
def trimmed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return wire.write_trimmed(tmp_path_factory.mktemp("layer"))


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    wire.aws_environment(monkeypatch, "eu-west-1")


GET = {"TableName": "t", "Key": {"pk": {"S": "a"}, "sk": {"S": "META"}}}
OBJECT = {"Bucket": "my-bucket", "Key": "isr/a/b.html"}


REGIONS = ("us-east-1", "eu-west-1", "cn-north-1", "us-gov-west-1", "us-iso-east-1")
VARIANTS: dict[str, dict[str, Any]] = {
    "plain": {},
    "fips": {"use_fips_endpoint": True},
    "dualstack": {"use_dualstack_endpoint": True},
    "path-style": {"s3": {"addressing_style": "path"}},
}
READS = (
    ("dynamodb", "get_item", GET),
    ("s3", "get_object", OBJECT),
    ("s3", "get_object", {"Bucket": "my.dotted.bucket", "Key": "k"}),  # path-style only
)


def _sent_or_error(make: Any, method: str, params: dict[str, Any]) -> object:
    try:
        return wire.call(make(), method, params)[0]
    except Exception as exc:  # an unsupported variant fails, and must fail the same way
        return type(exc).__name__, str(exc)


@pytest.mark.parametrize("region", REGIONS)
@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_trimmed_endpoints_resolve_as_botocore_s(
    trimmed: Path, aws_env: None, region: str, variant: str
) -> None:
    ours = wire.session_with(models_dir(botocore.__version__, trimmed))
    theirs = botocore.session.get_session()
    config = _aws.botocore_config(2.0, 2).merge(botocore.config.Config(**VARIANTS[variant]))
    for service, method, params in READS:
        sent = [
            _sent_or_error(
                lambda s=session, n=service: s.create_client(n, config=config, region_name=region),
                method,
                params,
            )
            for session in (ours, theirs)
        ]
        assert sent[0] == sent[1], (service, params)


@pytest.mark.parametrize("service", ["sts", "sso", "sso-oidc"])
def test_credential_clients_resolve_as_botocore_s(trimmed: Path, service: str) -> None:
    """Clients botocore's credential providers create on the store's session."""
    ours = wire.session_with(models_dir(botocore.__version__, trimmed))
    theirs = botocore.session.get_session()
    for region in ("us-east-1", "eu-west-1", "cn-north-1"):
        url = ours.create_client(service, region_name=region).meta.endpoint_url
        assert url == theirs.create_client(service, region_name=region).meta.endpoint_url
