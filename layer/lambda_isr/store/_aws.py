"""Shared AWS plumbing for the DynamoDB and S3 backends: client config, error translation,
a per-process client cache and a bounded jittered retry.

botocore errors are translated here and only here (``raise ... from exc``).
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Literal, cast, overload

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, NoRegionError

from lambda_isr.errors import ConfigError, StoreUnavailableError

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_s3 import S3Client

DEFAULT_TIMEOUT = 2.0
"""Seconds per attempt for each socket read; connecting gets half of it (see
:func:`botocore_config`). A request affords a few store calls before its first byte inside
Lambda's timeout, so one call must never hang for long."""
DEFAULT_MAX_ATTEMPTS = 2
"""botocore attempts per call (standard mode: one retry of a timeout, throttle or 5xx)."""
COMMIT_ATTEMPTS = 3
"""Our own tries of a transaction cancelled for a retryable reason (conflict, throttling)."""

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


def connect_timeout(timeout: float) -> float:
    """The connect timeout that goes with a read ``timeout``: half of it."""
    return timeout / 2


def call_bound(timeout: float, max_attempts: int) -> float:
    """Worst-case seconds one call can take against an endpoint that never answers.

    Each attempt connects within ``timeout / 2`` and reads within ``timeout``; botocore's
    standard mode sleeps at most 1 s (``random() * 2**0``) before its first retry and doubles
    that cap after each one.
    """
    per_attempt = connect_timeout(timeout) + timeout
    backoff = sum(min(20.0, 2.0**n) for n in range(max_attempts - 1))
    return max_attempts * per_attempt + backoff


def botocore_config(timeout: float, max_attempts: int) -> Config:
    """Per-attempt connect/read timeouts and botocore's standard bounded retries."""
    validate(timeout, max_attempts)
    return Config(
        connect_timeout=connect_timeout(timeout),
        read_timeout=timeout,
        # total_max_attempts counts the first try; botocore's max_attempts counts retries only.
        retries={"total_max_attempts": max_attempts, "mode": "standard"},
    )


def validate(timeout: float, max_attempts: int) -> None:
    """``ConfigError`` unless ``timeout > 0`` seconds and ``max_attempts >= 1``."""
    if not timeout > 0 or timeout == float("inf"):
        raise ConfigError(f"timeout must be > 0 seconds and finite, got {timeout!r}")
    if isinstance(max_attempts, bool) or not isinstance(max_attempts, int) or max_attempts < 1:
        raise ConfigError(f"max_attempts must be an integer >= 1, got {max_attempts!r}")


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
    """One botocore client per process and settings (re-created after ``fork``), the client
    ``boto3.client(service)`` would give, without importing boto3 (see :mod:`._botocore`).

    Endpoints, credentials and region come from the environment and the AWS config files, as
    for boto3 (``AWS_ENDPOINT_URL_DYNAMODB``, ...). All clients of a process share one session,
    so its loaded data (``endpoints.json``, partitions, handlers) is loaded once.
    """
    cache_key = (os.getpid(), service, timeout, max_attempts, region)
    with _clients_lock:
        client: Any = _clients.get(cache_key)
        if client is None:
            from lambda_isr.store._botocore import new_session  # noqa: PLC0415 - when used

            session = _sessions.get(os.getpid())
            if session is None:  # one session per process: clients share its loaded data
                session = _sessions[os.getpid()] = new_session()
            try:
                client = session.create_client(
                    service,
                    region_name=region,
                    config=botocore_config(timeout, max_attempts),
                )
            except NoRegionError as exc:
                raise ConfigError(
                    f"no AWS region for the {service} client: set AWS_REGION"
                ) from exc
            _clients[cache_key] = client
        return cast("DynamoDBClient | S3Client", client)


def retrying(
    attempts: int,
    sleep: Callable[[float], None],
    *,
    budget: float | None = None,
    monotonic: Callable[[], float] = time.monotonic,
) -> Iterator[int]:
    """Attempt numbers ``0..attempts-1`` with a jittered sleep between them.

    With a ``budget`` (seconds since the first attempt started), no new attempt starts once it
    is spent, sleep included: the caller's loop then ends without another try.
    """
    delays = backoff_delays(attempts)
    deadline = None if budget is None else monotonic() + budget
    for n in range(attempts):
        if n:
            delay = next(delays)
            if deadline is not None and monotonic() + delay >= deadline:
                return
            sleep(delay)
        yield n
