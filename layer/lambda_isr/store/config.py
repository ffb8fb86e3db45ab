"""Choose and build the store from explicit arguments, else the environment, else defaults.

- ``FACETHEORY_CACHE_TABLE_NAME`` + ``FACETHEORY_ISR_BUCKET`` (+ ``FACETHEORY_ISR_PREFIX``):
  DynamoDB + S3, the schema shared with FaceTheory/TableTheory. Endpoints come from boto3's own
  ``AWS_ENDPOINT_URL_DYNAMODB`` / ``AWS_ENDPOINT_URL_S3``.
- Otherwise the embedded SQLite + files store in ``.lambda-isr/`` (``LAMBDA_ISR_DIR``), or in
  ``/tmp/lambda-isr`` inside Lambda, where it is a per-sandbox cache (one warning says so).
  Each app has its own subfolder there, its namespace (:mod:`lambda_isr.namespace`): the one
  ``LAMBDA_ISR_NAMESPACE`` names, else the one of ``source``, the file that defines the app.
- An explicit namespace (``namespace=`` or ``LAMBDA_ISR_NAMESPACE``) also partitions the AWS
  store: ``TENANT#<namespace>#CACHE#...`` items and objects under ``<prefix>/<namespace>/``.
  Without one, the AWS store is shared by whatever uses the table and prefix.
- ``LAMBDA_ISR_STORE_TIMEOUT``: seconds one store call may wait per attempt (AWS: per read, half
  of it to connect; SQLite: for a lock). Default 2; with ``max_attempts`` (default 2) it bounds
  how long a request can hang on an unresponsive store.

Every variable's name and default is defined once, in :mod:`lambda_isr.settings`.
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
from lambda_isr.errors import ConfigError
from lambda_isr.namespace import namespace_for_file
from lambda_isr.settings import (
    DEFAULT_DIR,
    DEFAULT_PREFIX,
    DEFAULT_TIMEOUT,
    ENV_BUCKET,
    ENV_DIR,
    ENV_LAMBDA,
    ENV_PREFIX,
    ENV_TABLE,
    ENV_TIMEOUT,
    LAMBDA_DIR,
    store_settings,
)
from lambda_isr.store.contract import Store

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_s3 import S3Client

__all__ = [
    "DEFAULT_DIR",
    "DEFAULT_MAX_ATTEMPTS",
    "DEFAULT_PREFIX",
    "DEFAULT_TIMEOUT",
    "ENV_BUCKET",
    "ENV_DIR",
    "ENV_LAMBDA",
    "ENV_PREFIX",
    "ENV_TABLE",
    "ENV_TIMEOUT",
    "LAMBDA_DIR",
    "namespace_directory",
    "store_from_env",
]

logger = logging.getLogger("lambda_isr.store")

DEFAULT_RETENTION_SECONDS = 7 * 24 * 3600
DEFAULT_LEASE_TTL_BUFFER = 3600
DEFAULT_MAX_ATTEMPTS = 2


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
    timeout: float | None = None,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    namespace: str | None = None,
    source: str | os.PathLike[str] | None = None,
) -> Store:
    """Build the :class:`Store` the configuration asks for; bad settings raise ``ConfigError``
    naming the variable (see :mod:`lambda_isr.settings`).

    ``namespace`` (else ``LAMBDA_ISR_NAMESPACE``) names the store namespace explicitly;
    ``source``, the file that defines the app, names the embedded store's otherwise.
    """
    settings = store_settings(
        environ,
        table=table,
        bucket=bucket,
        prefix=prefix,
        directory=directory,
        timeout=timeout,
        namespace=namespace,
    )
    if retention_seconds <= 0:
        raise ConfigError(f"retention_seconds must be > 0, got {retention_seconds!r}")
    if lease_ttl_buffer < 0:
        raise ConfigError(f"lease_ttl_buffer must be >= 0, got {lease_ttl_buffer!r}")
    if isinstance(max_attempts, bool) or not isinstance(max_attempts, int) or max_attempts < 1:
        raise ConfigError(f"max_attempts must be an integer >= 1, got {max_attempts!r}")
    table, bucket, prefix = settings.table, settings.bucket, settings.prefix
    timeout = settings.timeout
    tokens = token_source or _uuid4

    if table and bucket:
        if settings.namespace is not None:
            tenant = tenant if tenant is not None else settings.namespace
            prefix = f"{prefix}/{settings.namespace}"
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
            max_attempts=max_attempts,
            token_source=tokens,
        )
        html = S3HtmlStore(
            bucket, prefix=prefix, client=s3_client, timeout=timeout, max_attempts=max_attempts
        )
        return Store(meta, html, f"dynamodb:{table} + s3://{bucket}/{prefix}/")

    from lambda_isr.store.files import FileHtmlStore  # noqa: PLC0415
    from lambda_isr.store.sqlite import SqliteMetaStore  # noqa: PLC0415

    if settings.in_lambda and not environ.get(ENV_DIR) and directory is None:
        logger.warning(
            "no %s/%s configured: using the embedded store in %s, a cache private to this "
            "Lambda sandbox (lost on cold start, not shared between instances)",
            ENV_TABLE,
            ENV_BUCKET,
            settings.directory,
        )
    embedded = settings.namespace
    if embedded is None and source is not None:
        embedded = namespace_for_file(source)
    root = namespace_directory(settings.directory, embedded)
    sqlite_meta = SqliteMetaStore(
        root / "meta.sqlite3", clock=clock, token_source=tokens, busy_timeout=timeout
    )
    files = FileHtmlStore(root / "html", prefix=prefix)
    return Store(sqlite_meta, files, f"sqlite+files:{root}")


def namespace_directory(directory: str | os.PathLike[str], namespace: str | None) -> Path:
    """The folder of one namespace of the embedded store (the root for ``None``)."""
    root = Path(directory)
    return root / namespace if namespace else root


def _uuid4() -> str:
    return str(uuid.uuid4())
