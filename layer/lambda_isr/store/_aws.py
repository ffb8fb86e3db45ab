"""Shared AWS plumbing for the DynamoDB and S3 backends: client config, error translation,
a per-process client cache and a bounded jittered retry.

botocore errors are translated here and only here (``raise ... from exc``).
"""

from __future__ import annotations

import os
import random
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Literal, overload

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, NoRegionError

from lambda_isr.errors import ConfigError, StoreUnavailableError

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_s3 import S3Client

DEFAULT_TIMEOUT = 5.0
DEFAULT_MAX_ATTEMPTS = 3

RETRYABLE_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "ThrottlingException",
        "Throttling",
        "ThrottlingError",
        "SlowDown",
        "InternalServerError",
        "InternalError",
        "ServiceUnavailable",
        "TransactionConflict",
        "TransactionConflictException",
        "TransactionInProgressException",
    }
)


def botocore_config(timeout: float, max_attempts: int) -> Config:
    """Per-attempt connect/read timeouts and botocore's standard bounded retries."""
    if not timeout > 0:
        raise ConfigError(f"timeout must be > 0 seconds, got {timeout!r}")
    if max_attempts < 1:
        raise ConfigError(f"max_attempts must be >= 1, got {max_attempts!r}")
    return Config(
        connect_timeout=timeout,
        read_timeout=timeout,
        retries={"max_attempts": max_attempts, "mode": "standard"},
    )


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


@contextmanager
def boundary(what: str, *, passthrough: frozenset[str] = frozenset()) -> Iterator[None]:
    """Translate botocore errors into :class:`StoreUnavailableError`.

    A :class:`ClientError` whose code is in ``passthrough`` (an expected condition failure,
    a missing object) is re-raised unchanged for the caller to interpret.
    """
    try:
        yield
    except ClientError as exc:
        code = error_code(exc)
        if code in passthrough:
            raise
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        raise StoreUnavailableError(f"{what} failed: {code or 'error'} (HTTP {status})") from exc
    except BotoCoreError as exc:
        raise StoreUnavailableError(f"{what} failed: {type(exc).__name__}: {exc}") from exc


def backoff_delays(attempts: int, *, base: float = 0.025, cap: float = 0.5) -> Iterator[float]:
    """Full-jitter exponential delays between ``attempts`` tries (``attempts - 1`` values)."""
    for n in range(attempts - 1):
        yield random.uniform(0, min(cap, base * 2**n))


_clients: dict[tuple[Any, ...], Any] = {}
_sessions: dict[int, Any] = {}
_clients_lock = threading.Lock()


@overload
def shared_client(
    service: Literal["dynamodb"], *, timeout: float, max_attempts: int, region: str | None = None
) -> DynamoDBClient: ...


@overload
def shared_client(
    service: Literal["s3"], *, timeout: float, max_attempts: int, region: str | None = None
) -> S3Client: ...


def shared_client(
    service: Literal["dynamodb", "s3"],
    *,
    timeout: float,
    max_attempts: int,
    region: str | None = None,
) -> DynamoDBClient | S3Client:
    """One boto3 client per process and settings (re-created after ``fork``).

    Endpoints come from boto3's own configuration (``AWS_ENDPOINT_URL_DYNAMODB``, ...).
    """
    cache_key = (os.getpid(), service, timeout, max_attempts, region)
    with _clients_lock:
        client = _clients.get(cache_key)
        if client is None:
            import boto3  # noqa: PLC0415 - boto3 only when an AWS store is really built

            session = _sessions.get(os.getpid())
            if session is None:  # one session per process: clients share its loaded data
                session = _sessions[os.getpid()] = boto3.session.Session()
            try:
                client = session.client(
                    service,
                    region_name=region,
                    config=botocore_config(timeout, max_attempts),
                )
            except NoRegionError as exc:
                raise ConfigError(
                    f"no AWS region for the {service} client: set AWS_REGION"
                ) from exc
            _clients[cache_key] = client
        return client


def retrying(attempts: int, sleep: Callable[[float], None]) -> Iterator[int]:
    """Attempt numbers ``0..attempts-1`` with a jittered sleep between them."""
    delays = backoff_delays(attempts)
    for n in range(attempts):
        if n:
            sleep(next(delays))
        yield n
