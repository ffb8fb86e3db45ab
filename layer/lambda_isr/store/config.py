"""Choose and build the store from explicit arguments, else the environment, else defaults.

- ``FACETHEORY_CACHE_TABLE_NAME`` + ``FACETHEORY_ISR_BUCKET`` (+ ``FACETHEORY_ISR_PREFIX``):
  DynamoDB + S3, the schema shared with FaceTheory/TableTheory. Endpoints come from boto3's own
  ``AWS_ENDPOINT_URL_DYNAMODB`` / ``AWS_ENDPOINT_URL_S3``.
- Otherwise the embedded SQLite + files store in ``.lambda-isr/`` (``LAMBDA_ISR_DIR``), or in
  ``/tmp/lambda-isr`` inside Lambda, where it is a per-sandbox cache (one warning says so).

Importing this module does not import boto3.
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from lambda_isr.clock import SYSTEM_CLOCK, Clock
from lambda_isr.errors import ConfigError, InvalidKeyError
from lambda_isr.store.contract import Store
from lambda_isr.store.keys import validate_prefix

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_s3 import S3Client

logger = logging.getLogger("lambda_isr.store")

ENV_TABLE = "FACETHEORY_CACHE_TABLE_NAME"
ENV_BUCKET = "FACETHEORY_ISR_BUCKET"
ENV_PREFIX = "FACETHEORY_ISR_PREFIX"
ENV_DIR = "LAMBDA_ISR_DIR"
ENV_LAMBDA = "AWS_LAMBDA_FUNCTION_NAME"

DEFAULT_DIR = ".lambda-isr"
LAMBDA_DIR = "/tmp/lambda-isr"  # noqa: S108 - the only writable place inside Lambda
DEFAULT_PREFIX = "isr"
DEFAULT_RETENTION_SECONDS = 7 * 24 * 3600
DEFAULT_LEASE_TTL_BUFFER = 3600
DEFAULT_TIMEOUT = 5.0


def store_from_env(
    environ: Mapping[str, str] = os.environ,
    *,
    clock: Clock = SYSTEM_CLOCK,
    token_source: Callable[[], str] | None = None,
    table: str | None = None,
    bucket: str | None = None,
    prefix: str | None = None,
    directory: str | os.PathLike[str] | None = None,
    dynamodb_client: DynamoDBClient | None = None,
    s3_client: S3Client | None = None,
    tenant: str | None = None,
    raw_keys: bool = False,
    retention_seconds: int = DEFAULT_RETENTION_SECONDS,
    lease_ttl_buffer: int = DEFAULT_LEASE_TTL_BUFFER,
    timeout: float = DEFAULT_TIMEOUT,
) -> Store:
    """Build the :class:`Store` the configuration asks for; bad settings raise ``ConfigError``."""
    table = table if table is not None else environ.get(ENV_TABLE)
    bucket = bucket if bucket is not None else environ.get(ENV_BUCKET)
    prefix = prefix if prefix is not None else environ.get(ENV_PREFIX, DEFAULT_PREFIX)
    try:
        prefix = validate_prefix(prefix)
    except InvalidKeyError as exc:
        raise ConfigError(f"{ENV_PREFIX}: {exc}") from exc
    if retention_seconds <= 0:
        raise ConfigError(f"retention_seconds must be > 0, got {retention_seconds!r}")
    if lease_ttl_buffer < 0:
        raise ConfigError(f"lease_ttl_buffer must be >= 0, got {lease_ttl_buffer!r}")
    if not timeout > 0:
        raise ConfigError(f"timeout must be > 0 seconds, got {timeout!r}")
    tokens = token_source or _uuid4

    for name, value in ((ENV_TABLE, table), (ENV_BUCKET, bucket)):
        if value is not None and not value.strip():
            raise ConfigError(f"{name} is empty: set it to a name, or unset it")
    if table or bucket:
        if not table or not bucket:
            have, missing = (ENV_TABLE, ENV_BUCKET) if table else (ENV_BUCKET, ENV_TABLE)
            raise ConfigError(
                f"{have} is set but {missing} is not: set both (DynamoDB + S3) or neither"
            )
        from lambda_isr.store.dynamodb import DynamoDbMetaStore  # noqa: PLC0415 - boto3 lazily
        from lambda_isr.store.s3 import S3HtmlStore  # noqa: PLC0415

        meta = DynamoDbMetaStore(
            table,
            client=dynamodb_client,
            clock=clock,
            tenant=tenant,
            raw_keys=raw_keys,
            retention_seconds=retention_seconds,
            lease_ttl_buffer=lease_ttl_buffer,
            timeout=timeout,
            token_source=tokens,
        )
        html = S3HtmlStore(bucket, prefix=prefix, client=s3_client, timeout=timeout)
        return Store(meta, html, f"dynamodb:{table} + s3://{bucket}/{prefix}/")

    from lambda_isr.store.files import FileHtmlStore  # noqa: PLC0415
    from lambda_isr.store.sqlite import SqliteMetaStore  # noqa: PLC0415

    root = Path(directory if directory is not None else _default_dir(environ))
    sqlite_meta = SqliteMetaStore(root / "meta.sqlite3", clock=clock, token_source=tokens)
    files = FileHtmlStore(root / "html", prefix=prefix)
    return Store(sqlite_meta, files, f"sqlite+files:{root}")


def _uuid4() -> str:
    return str(uuid.uuid4())


def _default_dir(environ: Mapping[str, str]) -> str:
    explicit = environ.get(ENV_DIR)
    if explicit:
        return explicit
    if environ.get(ENV_LAMBDA):
        logger.warning(
            "no %s/%s configured: using the embedded store in %s, a cache private to this "
            "Lambda sandbox (lost on cold start, not shared between instances)",
            ENV_TABLE,
            ENV_BUCKET,
            LAMBDA_DIR,
        )
        return LAMBDA_DIR
    return DEFAULT_DIR
