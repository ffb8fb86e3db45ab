"""store_from_env: explicit arguments, then environment, then the embedded default."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from lambda_isr.errors import ConfigError
from lambda_isr.store.config import store_from_env
from lambda_isr.store.dynamodb import DynamoDbMetaStore
from lambda_isr.store.files import FileHtmlStore
from lambda_isr.store.s3 import S3HtmlStore
from lambda_isr.store.sqlite import SqliteMetaStore
from tests.conftest import DdbTable, S3Bucket

ROOT = Path(__file__).resolve().parents[2]


def test_importing_config_does_not_import_boto3() -> None:
    code = "import sys, lambda_isr.store.config; print('boto3' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PYTHONPATH": str(ROOT / "layer")},
        check=True,
    )
    assert out.stdout.strip() == "False"


def test_embedded_store_in_the_configured_dir(tmp_path: Path) -> None:
    store = store_from_env({"LAMBDA_ISR_DIR": str(tmp_path / "d")})
    assert isinstance(store.meta, SqliteMetaStore)
    assert isinstance(store.html, FileHtmlStore)
    assert store.meta.path == tmp_path / "d" / "meta.sqlite3"
    assert store.html.root == (tmp_path / "d" / "html").resolve()
    explicit = store_from_env({"LAMBDA_ISR_DIR": "/nonexistent"}, directory=tmp_path / "e")
    assert isinstance(explicit.meta, SqliteMetaStore)
    assert explicit.meta.path.parent == tmp_path / "e"


def test_default_dir_is_relative(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    store = store_from_env({})
    assert isinstance(store.meta, SqliteMetaStore)
    assert (tmp_path / ".lambda-isr" / "meta.sqlite3").is_file()


def test_inside_lambda_without_tables_warns_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="lambda_isr.store"):
        store = store_from_env({"AWS_LAMBDA_FUNCTION_NAME": "fn", "LAMBDA_ISR_DIR": str(tmp_path)})
    assert isinstance(store.meta, SqliteMetaStore)
    assert caplog.records == []  # an explicit dir is a choice, not an accident
    with caplog.at_level(logging.WARNING, logger="lambda_isr.store"):
        store = store_from_env({"AWS_LAMBDA_FUNCTION_NAME": "fn"})
    assert isinstance(store.meta, SqliteMetaStore)
    assert str(store.meta.path).startswith("/tmp/lambda-isr/")
    assert len(caplog.records) == 1
    assert "per" in caplog.records[0].getMessage() or "sandbox" in caplog.records[0].getMessage()


def test_aws_store_from_env(moto_ddb_table: DdbTable, moto_s3_bucket: S3Bucket) -> None:
    store = store_from_env(
        {
            "FACETHEORY_CACHE_TABLE_NAME": moto_ddb_table.name,
            "FACETHEORY_ISR_BUCKET": moto_s3_bucket.name,
            "FACETHEORY_ISR_PREFIX": "site/isr/",
        },
        dynamodb_client=moto_ddb_table.client,
        s3_client=moto_s3_bucket.client,
    )
    assert isinstance(store.meta, DynamoDbMetaStore)
    assert isinstance(store.html, S3HtmlStore)
    assert store.html.put("k", b"x").key.startswith("site/isr/")
    assert store.meta.get("k") is None
    assert "dynamodb" in store.description


def test_shared_clients_are_created_once(moto_aws: None) -> None:
    env = {"FACETHEORY_CACHE_TABLE_NAME": "tbl", "FACETHEORY_ISR_BUCKET": "bkt"}
    a, b = store_from_env(env), store_from_env(env)
    assert isinstance(a.meta, DynamoDbMetaStore)
    assert isinstance(b.meta, DynamoDbMetaStore)
    assert a.meta._client is b.meta._client
    assert isinstance(a.html, S3HtmlStore)
    assert isinstance(b.html, S3HtmlStore)
    assert a.html._client is b.html._client


def test_store_timeout_from_env_and_arguments(moto_aws: None, tmp_path: Path) -> None:
    """LAMBDA_ISR_STORE_TIMEOUT (or ``timeout=``) bounds every store call; default 2 s."""
    aws = {"FACETHEORY_CACHE_TABLE_NAME": "tbl", "FACETHEORY_ISR_BUCKET": "bkt"}
    store = store_from_env({**aws, "LAMBDA_ISR_STORE_TIMEOUT": "0.5"}, max_attempts=1)
    assert isinstance(store.meta, DynamoDbMetaStore)
    cfg: Any = store.meta._client.meta.config  # botocore Config: untyped attributes
    assert (cfg.connect_timeout, cfg.read_timeout) == (0.25, 0.5)
    assert cfg.retries == {"total_max_attempts": 1, "mode": "standard"}
    assert isinstance(store.html, S3HtmlStore)
    assert (store.html._timeout, store.html._max_attempts) == (0.5, 1)
    default = store_from_env(aws)
    assert isinstance(default.meta, DynamoDbMetaStore)
    cfg = default.meta._client.meta.config
    assert (cfg.connect_timeout, cfg.read_timeout) == (1.0, 2.0)
    assert cfg.retries == {"total_max_attempts": 2, "mode": "standard"}
    explicit = store_from_env({**aws, "LAMBDA_ISR_STORE_TIMEOUT": "9"}, timeout=1.0)
    assert isinstance(explicit.meta, DynamoDbMetaStore)
    cfg = explicit.meta._client.meta.config
    assert cfg.read_timeout == 1.0
    sqlite = store_from_env({"LAMBDA_ISR_STORE_TIMEOUT": "0.75"}, directory=tmp_path)
    assert isinstance(sqlite.meta, SqliteMetaStore)
    assert sqlite.meta._busy_timeout == 0.75
    embedded = store_from_env({}, directory=tmp_path)
    assert isinstance(embedded.meta, SqliteMetaStore)
    assert embedded.meta._busy_timeout == 2.0


@pytest.mark.parametrize(
    ("env", "kwargs", "message"),
    [
        ({"FACETHEORY_CACHE_TABLE_NAME": "t"}, {}, "FACETHEORY_ISR_BUCKET is not"),
        ({"FACETHEORY_ISR_BUCKET": "b"}, {}, "FACETHEORY_CACHE_TABLE_NAME is not"),
        ({"FACETHEORY_CACHE_TABLE_NAME": ""}, {}, "FACETHEORY_CACHE_TABLE_NAME is empty"),
        ({"FACETHEORY_CACHE_TABLE_NAME": "t", "FACETHEORY_ISR_BUCKET": " "}, {}, "BUCKET is empty"),
        ({"FACETHEORY_ISR_PREFIX": "../up"}, {}, "FACETHEORY_ISR_PREFIX"),
        ({}, {"retention_seconds": 0}, "retention_seconds"),
        ({}, {"lease_ttl_buffer": -1}, "lease_ttl_buffer"),
        ({}, {"timeout": 0}, "timeout"),
        ({}, {"timeout": float("nan")}, "timeout"),
        ({"LAMBDA_ISR_STORE_TIMEOUT": "soon"}, {}, "LAMBDA_ISR_STORE_TIMEOUT"),
        ({"LAMBDA_ISR_STORE_TIMEOUT": "-1"}, {}, "timeout"),
        ({"LAMBDA_ISR_STORE_TIMEOUT": "inf"}, {}, "timeout"),
        ({}, {"max_attempts": 0}, "max_attempts"),
        ({}, {"table": "t!", "bucket": "bucket"}, "table name"),
        ({}, {"table": "tbl", "bucket": "Bad_Bucket"}, "bucket name"),
    ],
)
def test_bad_config(
    env: dict[str, str],
    kwargs: dict[str, object],
    message: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with pytest.raises(ConfigError, match=message):
        store_from_env(env, directory=tmp_path, **kwargs)  # type: ignore[arg-type]
