"""The trimmed botocore data: a client built from it behaves as one built from botocore's full
data, for every operation the store calls (the same bytes sent, the same answers and errors
parsed), and the store calls nothing else (endpoints: ``test_models_endpoints.py``)."""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any

import boto3
import botocore
import botocore.session
import pytest
from botocore.loaders import Loader

from lambda_isr.store import _aws, _botocore, _models
from lambda_isr.store._models import (
    ENDPOINT_SERVICES,
    OPERATIONS,
    models_dir,
    trim,
)
from tests.store import wire

STORE = Path(_models.__file__).parent
REGION = "eu-west-1"
BOTOCORE = Path(botocore.__file__).parent


@pytest.fixture(scope="module")
def trimmed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return wire.write_trimmed(tmp_path_factory.mktemp("layer"))


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    wire.aws_environment(monkeypatch, REGION)


def test_the_written_models_are_small_and_complete(trimmed: Path) -> None:
    folder = Path(models_dir(botocore.__version__, trimmed) or "")
    for service, operations in OPERATIONS.items():
        (path,) = folder.glob(f"{service}/*/service-2.json")
        assert path.stat().st_size < 80_000
        model = json.loads(path.read_text())
        assert sorted(model["operations"]) == sorted(operations)
        kept = json.dumps([model["operations"], model["shapes"]])
        assert "documentation" not in kept
    endpoints = json.loads((folder / "endpoints.json").read_text())
    full = json.loads((BOTOCORE / "data" / "endpoints.json").read_text())
    assert [p["partition"] for p in endpoints["partitions"]] == [
        p["partition"] for p in full["partitions"]
    ]
    for ours, theirs in zip(endpoints["partitions"], full["partitions"], strict=True):
        assert ours["regions"] == theirs["regions"]
        assert ours["defaults"] == theirs["defaults"]
        assert set(ours["services"]) == set(ENDPOINT_SERVICES) & set(theirs["services"])
        assert {"dynamodb", "s3"} <= set(ours["services"])
    assert (folder / "endpoints.json").stat().st_size < 60_000
    assert models_dir("0.0.0", trimmed) is None


def test_trim_keeps_member_names_and_every_exception() -> None:
    model = {
        "version": "2.0",
        "documentation": "the service",
        "metadata": {"protocol": "json"},
        "operations": {
            "Get": {"name": "Get", "input": {"shape": "In"}, "documentation": "x"},
            "Other": {"name": "Other", "input": {"shape": "Unused"}},
        },
        "shapes": {
            "In": {
                "type": "structure",
                "members": {"documentation": {"shape": "S", "documentation": "a member"}},
                "documentation": "input",
            },
            "S": {"type": "string"},
            "Unused": {"type": "structure", "members": {}},
            "Boom": {"type": "structure", "members": {"Why": {"shape": "L"}}, "exception": True},
            "L": {"type": "list", "member": {"shape": "S", "documentation": "item"}},
        },
    }
    out = trim(model, ["Get"])
    assert out == {
        "version": "2.0",
        "metadata": {"protocol": "json"},
        "operations": {"Get": {"name": "Get", "input": {"shape": "In"}}},
        "shapes": {
            "In": {"type": "structure", "members": {"documentation": {"shape": "S"}}},
            "S": {"type": "string"},
            "Boom": {"type": "structure", "members": {"Why": {"shape": "L"}}, "exception": True},
            "L": {"type": "list", "member": {"shape": "S"}},
        },
    }
    with pytest.raises(KeyError):
        trim(model, ["Missing"])


def test_the_loader_searches_them_before_botocore_only(trimmed: Path, tmp_path: Path) -> None:
    folder = models_dir(botocore.__version__, trimmed)
    loader = _botocore.light_loader(str(tmp_path), folder)
    assert loader.search_paths == [
        str(tmp_path),
        Loader.CUSTOMER_DATA_PATH,
        folder,
        Loader.BUILTIN_DATA_PATH,
    ]
    model = loader.load_service_model("s3", "service-2")
    assert sorted(model["operations"]) == sorted(OPERATIONS["s3"])
    assert model["shapes"]["Expires"] == {"type": "timestamp"}  # botocore's sdk-extras merged
    ruleset = loader.load_service_model("s3", "endpoint-rule-set-1")
    assert ruleset == Loader().load_service_model("s3", "endpoint-rule-set-1")


def test_the_store_session_uses_them_when_written(
    trimmed: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_models, "MODELS", trimmed)
    loader = _botocore.new_session().get_component("data_loader")
    assert models_dir(botocore.__version__, trimmed) in loader.search_paths
    monkeypatch.setattr(_models, "MODELS", trimmed / "nowhere")
    loader = _botocore.new_session().get_component("data_loader")
    assert loader.search_paths == [Loader.CUSTOMER_DATA_PATH, Loader.BUILTIN_DATA_PATH]


def _calls_in(source: Path) -> set[str]:
    """Methods called on something named ``client`` / ``_client`` in one module."""
    called = set()
    for node in ast.walk(ast.parse(source.read_text())):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            owner = node.func.value
            name = owner.attr if isinstance(owner, ast.Attribute) else getattr(owner, "id", "")
            if name in ("client", "_client"):
                called.add(node.func.attr)
    return called


def test_the_store_calls_only_the_trimmed_operations() -> None:
    methods = set()
    for source in sorted(STORE.glob("*.py")):
        methods |= _calls_in(source)
    assert {"get_item", "transact_write_items", "put_object", "query"} <= methods  # sees them
    ddb = boto3.session.Session().client("dynamodb", region_name=REGION)
    s3 = boto3.session.Session().client("s3", region_name=REGION)
    api = {**ddb.meta.method_to_api_mapping, **s3.meta.method_to_api_mapping}
    allowed = set(OPERATIONS["dynamodb"]) | set(OPERATIONS["s3"])
    assert {api[m] for m in methods if m in api} <= allowed
    assert not {m for m in methods if m not in api} - {"close"}, "not an API call?"


ITEM = {"pk": {"S": "a"}, "sk": {"S": "META"}, "n": {"N": "1"}}
GET = {"TableName": "t", "Key": {"pk": {"S": "a"}, "sk": {"S": "META"}}}
OBJECT = {"Bucket": "my-bucket", "Key": "isr/a/b.html"}
_CANCELLED = {
    "__type": "com.amazonaws.dynamodb.v20120810#TransactionCanceledException",
    "Message": "Transaction cancelled",
    "CancellationReasons": [
        {"Code": "ConditionalCheckFailed", "Message": "no", "Item": ITEM},
        {"Code": "None"},
    ],
}
_CONDITION = {
    "__type": "com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException",
    "message": "The conditional request failed",
    "Item": ITEM,
}
_S3_HEADERS = {
    "Content-Type": "text/html",
    "Content-Length": "9",
    "ETag": '"abc"',
    "Last-Modified": "Wed, 01 Jan 2025 00:00:00 GMT",
    "x-amz-meta-lambda-isr-status": "200",
}
UPDATE = {
    **GET,
    "UpdateExpression": "SET #a = :a",
    "ExpressionAttributeNames": {"#a": "a"},
    "ExpressionAttributeValues": {":a": {"N": "2"}},
    "ReturnValues": "ALL_NEW",
}
QUERY = {
    "TableName": "t",
    "KeyConditionExpression": "pk = :p",
    "ExpressionAttributeValues": {":p": {"S": "a"}},
}
PUT = {
    **OBJECT,
    "Body": b"<p>hi</p>",
    "ContentType": "text/html",
    "Metadata": {"lambda-isr-status": "200"},
    "IfNoneMatch": "*",
}
COPY = {**OBJECT, "CopySource": OBJECT, "MetadataDirective": "REPLACE", "Metadata": {}}
TRANSACT = {
    "ClientRequestToken": "x" * 36,
    "TransactItems": [{"Put": {"TableName": "t", "Item": ITEM}}],
}
BATCH = {"RequestItems": {"t": [{"DeleteRequest": {"Key": GET["Key"]}}]}}


def _json(value: object) -> bytes:
    return json.dumps(value).encode()


def _s3_error(code: str) -> bytes:
    return f"<Error><Code>{code}</Code><Message>m</Message></Error>".encode()


def case(
    service: str,
    method: str,
    params: dict[str, Any],
    status: int = 200,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
) -> Any:
    return pytest.param(
        service, method, params, status, headers or {}, body, id=f"{method}-{status}"
    )


# Every operation the store calls, answered well and badly.
CASES = [
    case("dynamodb", "get_item", GET, 200, _json({"Item": ITEM})),
    case("dynamodb", "get_item", GET, 400, _json({"__type": "x#ThrottlingException"})),
    case("dynamodb", "put_item", {"TableName": "t", "Item": ITEM}, 400, _json(_CONDITION)),
    case("dynamodb", "update_item", UPDATE, 200, _json({"Attributes": ITEM})),
    case("dynamodb", "delete_item", GET, 200, b"{}"),
    case("dynamodb", "query", QUERY, 200, _json({"Items": [ITEM], "LastEvaluatedKey": GET["Key"]})),
    case("dynamodb", "batch_write_item", BATCH, 200, b'{"UnprocessedItems":{}}'),
    case("dynamodb", "transact_write_items", TRANSACT, 400, _json(_CANCELLED)),
    case("s3", "get_object", OBJECT, 200, b"<p>hi</p>", _S3_HEADERS),
    case("s3", "get_object", OBJECT, 404, _s3_error("NoSuchKey")),
    case("s3", "head_object", OBJECT, 200, b"", _S3_HEADERS),
    case("s3", "head_object", OBJECT, 404),
    case("s3", "put_object", PUT, 200, b"", {"ETag": '"abc"'}),
    case("s3", "put_object", PUT, 412, _s3_error("PreconditionFailed")),
    case(
        "s3",
        "copy_object",
        COPY,
        200,
        b"<CopyObjectResult><ETag>&quot;abc&quot;</ETag>"
        b"<LastModified>2025-01-01T00:00:00.000Z</LastModified></CopyObjectResult>",
    ),
]


@pytest.mark.parametrize(("service", "method", "params", "status", "headers", "body"), CASES)
def test_a_trimmed_client_is_a_full_client_for_the_store(
    trimmed: Path,
    aws_env: None,
    service: Any,
    method: str,
    params: dict[str, Any],
    status: int,
    headers: dict[str, str],
    body: bytes,
) -> None:
    config = _aws.botocore_config(2.0, 2)
    ours = wire.session_with(models_dir(botocore.__version__, trimmed)).create_client(
        service, config=config
    )
    assert len(ours.meta.service_model.operation_names) == len(OPERATIONS[service])
    theirs = boto3.session.Session().client(service, config=config)
    sent, answer = wire.call(ours, method, params, status=status, headers=headers, body=body)
    assert (sent, answer) == wire.call(
        theirs, method, params, status=status, headers=headers, body=body
    )
    if status >= 300:
        assert answer["Error"]["Code"]
    if method == "transact_write_items":
        assert answer["CancellationReasons"][0]["Item"] == ITEM  # the modeled error's fields
    if method == "put_item":
        assert answer["Item"] == ITEM
