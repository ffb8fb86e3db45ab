"""The store's botocore session: the same clients as boto3's, for less cold start.

Each shortcut of :mod:`lambda_isr.store._botocore` is compared with botocore's own code path:
the data loaded, the services found, and the bytes each store operation sends.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import boto3
import botocore.session
import pytest
from botocore.exceptions import UnknownServiceError
from botocore.loaders import JSONFileLoader, Loader

from lambda_isr.store import _aws
from lambda_isr.store._botocore import LightLoader, PlainJsonFiles, light_loader, new_session
from tests.store import wire

ROOT = Path(__file__).resolve().parents[2]
REGION = "eu-west-1"
# Everything the two clients load when they are created, plus what a waiter or paginator would.
DATA = [
    "endpoints",
    "partitions",
    "sdk-default-configuration",
    "_retry",
    "dynamodb/2012-08-10/service-2",
    "dynamodb/2012-08-10/endpoint-rule-set-1",
    "dynamodb/2012-08-10/paginators-1",
    "s3/2006-03-01/service-2",
    "s3/2006-03-01/service-2.sdk-extras",
    "s3/2006-03-01/endpoint-rule-set-1",
    "s3/2006-03-01/waiters-2",
]


@pytest.mark.parametrize("name", DATA)
def test_plain_json_is_botocore_json_in_the_same_order(name: str) -> None:
    path = os.path.join(Loader.BUILTIN_DATA_PATH, name)
    ours, theirs = PlainJsonFiles().load_file(path), JSONFileLoader().load_file(path)
    assert ours is not None
    assert ours == theirs
    assert json.dumps(ours) == json.dumps(theirs)  # key order too, at every level
    assert type(ours) is dict


def test_a_missing_file_is_none() -> None:
    assert PlainJsonFiles().load_file(os.path.join(Loader.BUILTIN_DATA_PATH, "nope/x")) is None


@pytest.mark.parametrize("type_name", ["service-2", "endpoint-rule-set-1", "waiters-2"])
def test_known_services_are_botocore_s(type_name: str) -> None:
    ours = LightLoader().list_available_services(type_name)
    theirs = Loader().list_available_services(type_name)
    assert list(ours) == theirs
    assert len(ours) == len(theirs)
    assert (ours[0], list(ours[-2:])) == (theirs[0], theirs[-2:])
    for service in theirs:
        assert service in ours
    for other in ("no-such-service", "", ".", "..", "s3/2006-03-01", "../data", 3):
        assert other not in ours


def test_known_services_do_not_list_every_folder(monkeypatch: pytest.MonkeyPatch) -> None:
    loader = LightLoader()
    listed: list[str] = []
    real = os.listdir

    def counting(path: Any = ".") -> list[str]:
        listed.append(str(path))
        return real(path)

    monkeypatch.setattr(os, "listdir", counting)
    assert loader.load_service_model("dynamodb", "service-2")["metadata"]["protocol"] == "json"
    assert len(listed) <= 2, listed  # dynamodb's own folder, not the 400 services'


def test_unknown_service_is_botocore_s_error() -> None:
    with pytest.raises(UnknownServiceError, match="dynamodb"):
        LightLoader().load_service_model("no-such-service", "service-2")


def test_aws_data_path_comes_first(tmp_path: Path) -> None:
    """``AWS_DATA_PATH`` folders are searched before botocore's, as by ``create_loader``."""
    model = tmp_path / "models" / "dynamodb" / "2099-01-01"
    model.mkdir(parents=True)
    (model / "service-2.json").write_text('{"metadata": {"apiVersion": "2099-01-01"}}')
    loader = light_loader(f"{tmp_path / 'none'}{os.pathsep}{tmp_path / 'models'}")
    assert loader.search_paths[:2] == [str(tmp_path / "none"), str(tmp_path / "models")]
    found = loader.load_service_model("dynamodb", "service-2")
    assert found["metadata"] == {"apiVersion": "2099-01-01"}
    assert light_loader(None).search_paths == Loader().search_paths


def test_session_honours_aws_data_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_DATA_PATH", str(tmp_path))
    loader = new_session().get_component("data_loader")
    assert isinstance(loader, LightLoader)
    assert loader.search_paths[0] == str(tmp_path)


CALLS: list[tuple[str, str, dict[str, Any]]] = [
    ("dynamodb", "get_item", {"TableName": "t", "Key": {"pk": {"S": "a"}}, "ConsistentRead": True}),
    (
        "dynamodb",
        "put_item",
        {
            "TableName": "t",
            "Item": {"pk": {"S": "a"}, "sk": {"S": "LOCK"}, "n": {"N": "1"}},
            "ConditionExpression": "attribute_not_exists(#pk)",
            "ExpressionAttributeNames": {"#pk": "pk"},
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        },
    ),
    (
        "dynamodb",
        "transact_write_items",
        {
            "ClientRequestToken": "x" * 36,
            "TransactItems": [{"Delete": {"TableName": "t", "Key": {"pk": {"S": "a"}}}}],
        },
    ),
    ("s3", "get_object", {"Bucket": "my-bucket", "Key": "isr/a/b.html"}),
    ("s3", "head_object", {"Bucket": "my-bucket", "Key": "isr/a/b.html"}),
    (
        "s3",
        "put_object",
        {
            "Bucket": "my-bucket",
            "Key": "isr/a/b.html",
            "Body": b"<p>hi</p>",
            "ContentType": "text/html; charset=utf-8",
            "Metadata": {"lambda-isr-status": "200"},
            "IfNoneMatch": "*",
        },
    ),
    (
        "s3",
        "copy_object",
        {
            "Bucket": "my-bucket",
            "Key": "isr/a/b.html",
            "CopySource": {"Bucket": "my-bucket", "Key": "isr/a/b.html"},
            "MetadataDirective": "REPLACE",
        },
    ),
]


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    monkeypatch.setattr(_aws, "_clients", {})
    monkeypatch.setattr(_aws, "_sessions", {})


@pytest.mark.parametrize(("service", "method", "params"), CALLS, ids=[c[1] for c in CALLS])
def test_store_clients_send_what_boto3_clients_send(
    aws_env: None, service: Any, method: str, params: dict[str, Any]
) -> None:
    ours = _aws.shared_client(service, timeout=2.0, max_attempts=2)
    theirs = boto3.session.Session().client(service, config=_aws.botocore_config(2.0, 2))
    assert type(ours).__mro__[1:] == type(theirs).__mro__[1:]
    assert ours.meta.region_name == theirs.meta.region_name == REGION
    assert ours.meta.endpoint_url == theirs.meta.endpoint_url
    sent, _ = wire.call(ours, method, params)
    assert sent == wire.call(theirs, method, params)[0]
    assert sent["headers"]  # something was captured


def test_one_session_per_process(aws_env: None) -> None:
    ddb = _aws.shared_client("dynamodb", timeout=2.0, max_attempts=2)
    s3 = _aws.shared_client("s3", timeout=2.0, max_attempts=2)
    assert _aws.shared_client("dynamodb", timeout=2.0, max_attempts=2) is ddb
    assert len(_aws._sessions) == 1
    session = next(iter(_aws._sessions.values()))
    assert isinstance(session, botocore.session.Session)
    assert isinstance(session.get_component("data_loader"), LightLoader)
    assert ddb.meta.service_model.service_name == "dynamodb"
    assert s3.meta.service_model.service_name == "s3"


def test_the_store_never_imports_boto3() -> None:
    """An AWS store with both clients, in a fresh interpreter: botocore only."""
    code = (
        "import sys\n"
        "from lambda_isr.store.config import store_from_env\n"
        "store = store_from_env({'FACETHEORY_CACHE_TABLE_NAME': 'tbl',"
        " 'FACETHEORY_ISR_BUCKET': 'my-bucket'})\n"
        "store.html._client\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('boto3', 's3transfer', 'awscrt')]\n"
        "assert not bad, bad\n"
        "assert 'botocore.client' in sys.modules\n"
    )
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(ROOT / "layer"),
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE",
        "AWS_SECRET_ACCESS_KEY": "secret",
    }
    subprocess.run([sys.executable, "-c", code], env=env, check=True, timeout=60)
