"""Session fixtures shared by every test package: DynamoDB Local and moto (AWS fakes)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import boto3
import pytest

from tests.support.ddb_local import REGION, DynamoDbLocal, create_table

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_s3 import S3Client


@dataclass(frozen=True)
class DdbTable:
    """A fresh table and a client for it."""

    name: str
    client: DynamoDBClient


@pytest.fixture(scope="session")
def ddb_local() -> Iterator[DynamoDbLocal]:
    """DynamoDB Local for the whole session (started on first use; failure fails the run)."""
    server = DynamoDbLocal()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def ddb_local_table(ddb_local: DynamoDbLocal) -> DdbTable:
    """A new uniquely named table on DynamoDB Local."""
    client = ddb_local.client()
    return DdbTable(create_table(client), client)


@pytest.fixture
def moto_aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """moto's in-process AWS (single-threaded use only: it is wrong under concurrency)."""
    from moto import mock_aws  # noqa: PLC0415 - moto is slow to import; only when used

    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws():
        yield


@pytest.fixture
def moto_ddb_table(moto_aws: None) -> DdbTable:
    client = boto3.session.Session().client(
        "dynamodb", region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing"
    )
    return DdbTable(create_table(client), client)


@dataclass(frozen=True)
class S3Bucket:
    name: str
    client: S3Client


@pytest.fixture
def moto_s3_bucket(moto_aws: None) -> S3Bucket:
    client = boto3.session.Session().client(
        "s3", region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing"
    )
    name = f"isr-{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=name)
    return S3Bucket(name, client)
