"""Every setting lambda-isr reads from the environment: names, defaults, validation, once.

Resolution order for each setting (as Powertools does): an explicit argument, else the
environment variable named here, else the default named here. Settings are resolved and
validated when a face or app is built (at import, so under the runtime a mistake is an init
error), never discovered per request; nothing here imports boto3.

A mistake raises :class:`~lambda_isr.errors.ConfigError` whose message names the variable and
what to set. It is never reported as a store outage.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass

from lambda_isr.errors import ConfigError, InvalidKeyError

__all__ = [
    "ENV_BUCKET",
    "ENV_DIR",
    "ENV_ERROR_BANNER",
    "ENV_LAMBDA",
    "ENV_PREFIX",
    "ENV_STORE_NAMESPACE",
    "ENV_TABLE",
    "ENV_TIMEOUT",
    "ObservabilitySettings",
    "StoreSettings",
    "observability_settings",
    "store_settings",
]

# --- the store -------------------------------------------------------------------------------
ENV_TABLE = "FACETHEORY_CACHE_TABLE_NAME"
"""DynamoDB table for page metadata and leases (with ``ENV_BUCKET``: the AWS store)."""
ENV_BUCKET = "FACETHEORY_ISR_BUCKET"
"""S3 bucket for page bodies (with ``ENV_TABLE``)."""
ENV_PREFIX = "FACETHEORY_ISR_PREFIX"
"""Key prefix of page bodies in the bucket or files store. Default ``isr``."""
ENV_DIR = "LAMBDA_ISR_DIR"
"""Folder of the embedded SQLite + files store. Default ``.lambda-isr`` (``/tmp/lambda-isr``
inside Lambda, where it is a per-sandbox cache)."""
ENV_TIMEOUT = "LAMBDA_ISR_STORE_TIMEOUT"
"""Seconds one store call may wait per attempt. Default 2."""
ENV_LAMBDA = "AWS_LAMBDA_FUNCTION_NAME"
"""Set by Lambda: tells the embedded store it runs inside a sandbox."""
ENV_STORE_NAMESPACE = "LAMBDA_ISR_NAMESPACE"
"""The store namespace, set explicitly. Unset (the default), the embedded store keeps each app
in a subfolder named after the file of the module that defines it, and the AWS store is not
namespaced. Set, it names that subfolder, and on the AWS store it partitions the table
(``TENANT#<namespace>#CACHE#...``, TableTheory's tenant partition) and puts page bodies under
``<prefix>/<namespace>/``. Letters, digits, ``.``, ``_`` and ``-``; at most 100."""

DEFAULT_PREFIX = "isr"
DEFAULT_DIR = ".lambda-isr"
LAMBDA_DIR = "/tmp/lambda-isr"  # noqa: S108 - the only writable place inside Lambda
DEFAULT_TIMEOUT = 2.0
_NAMESPACE_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")

# --- async revalidation (revalidate_async, the consumer) -----------------------------------
ENV_REVALIDATION_QUEUE = "LAMBDA_ISR_REVALIDATION_QUEUE_URL"
"""The SQS queue ``revalidate_async`` sends one message per page to (template.yaml sets it)."""
ENV_APP = "LAMBDA_ISR_APP"
"""``module.attr``: the app (or ``@isr_face`` handler) the revalidation consumer imports."""

# --- development ---------------------------------------------------------------------------
ENV_ERROR_BANNER = "LAMBDA_ISR_ERROR_BANNER"
"""``1``: a render that fails after bytes were sent ends with a visible error banner after the
invisible error footer (``lambda-isr dev`` sets it). Default: the footer only."""

# --- observability ---------------------------------------------------------------------------
ENV_SERVICE = "POWERTOOLS_SERVICE_NAME"
ENV_NAMESPACE = "POWERTOOLS_METRICS_NAMESPACE"
ENV_TRACE_DISABLED = "POWERTOOLS_TRACE_DISABLED"
"""Tracing is on only when this is set to a false value (``0``, ``false``, ``no``, ``off``)."""
DEFAULT_SERVICE = "lambda-isr"
DEFAULT_NAMESPACE = "LambdaIsr"
_FALSE = frozenset({"0", "false", "no", "off"})


@dataclass(frozen=True, slots=True)
class StoreSettings:
    """Which store the environment asks for (validated, not yet built)."""

    table: str | None
    bucket: str | None
    prefix: str
    directory: str
    timeout: float
    in_lambda: bool
    namespace: str | None = None
    """The explicit namespace (argument or ``LAMBDA_ISR_NAMESPACE``), else ``None``."""

    @property
    def aws(self) -> bool:
        """DynamoDB + S3 (else the embedded SQLite + files store)."""
        return self.table is not None


def store_settings(
    environ: Mapping[str, str] | None = None,
    *,
    table: str | None = None,
    bucket: str | None = None,
    prefix: str | None = None,
    directory: str | os.PathLike[str] | None = None,
    timeout: float | None = None,
    namespace: str | None = None,
) -> StoreSettings:
    """Resolve and validate the store's settings (explicit argument > environment > default)."""
    env = os.environ if environ is None else environ
    if namespace is None:
        namespace = env.get(ENV_STORE_NAMESPACE) or None
    if namespace is not None:
        namespace = check_namespace(namespace, ENV_STORE_NAMESPACE)
    table = table if table is not None else env.get(ENV_TABLE)
    bucket = bucket if bucket is not None else env.get(ENV_BUCKET)
    for name, value in ((ENV_TABLE, table), (ENV_BUCKET, bucket)):
        if value is not None and not value.strip():
            raise ConfigError(f"{name} is empty: set it to a name, or unset it")
    if bool(table) != bool(bucket):
        have, missing = (ENV_TABLE, ENV_BUCKET) if table else (ENV_BUCKET, ENV_TABLE)
        raise ConfigError(
            f"{have} is set but {missing} is not: set {missing} too (the AWS store needs a"
            f" DynamoDB table and an S3 bucket), or unset {have} for the embedded store"
        )
    raw_prefix = prefix if prefix is not None else env.get(ENV_PREFIX, DEFAULT_PREFIX)
    if timeout is None:
        timeout = _seconds(env.get(ENV_TIMEOUT), ENV_TIMEOUT, DEFAULT_TIMEOUT)
    elif isinstance(timeout, bool) or not isinstance(timeout, int | float):
        raise ConfigError(f"timeout must be > 0 seconds and finite, got {timeout!r}")
    if not timeout > 0 or not math.isfinite(timeout):
        raise ConfigError(
            f"{ENV_TIMEOUT} (timeout) must be > 0 seconds and finite, got {timeout!r}"
        )
    in_lambda = bool(env.get(ENV_LAMBDA))
    if directory is None:
        directory = env.get(ENV_DIR) or (LAMBDA_DIR if in_lambda else DEFAULT_DIR)
    return StoreSettings(
        table=table or None,
        bucket=bucket or None,
        prefix=_prefix(raw_prefix),
        directory=os.fspath(directory),
        timeout=float(timeout),
        in_lambda=in_lambda,
        namespace=namespace,
    )


def check_namespace(value: str, name: str) -> str:
    """A namespace is one safe path segment and a DynamoDB tenant (no ``#``, no ``/``)."""
    if not isinstance(value, str) or not _NAMESPACE_RE.fullmatch(value):
        raise ConfigError(
            f"{name}={value!r} is not a namespace: use 1-100 letters, digits, '.', '_' or '-',"
            " starting with a letter or digit (for example my-site)"
        )
    return value


def error_banner_enabled(environ: Mapping[str, str] | None = None) -> bool:
    """Whether ``LAMBDA_ISR_ERROR_BANNER`` asks for the visible error banner."""
    env = os.environ if environ is None else environ
    flag = env.get(ENV_ERROR_BANNER, "")
    return flag.strip().lower() not in _FALSE and bool(flag.strip())


def _prefix(raw: str) -> str:
    from lambda_isr.store.keys import validate_prefix  # noqa: PLC0415 - pure, no boto3

    try:
        return validate_prefix(raw)
    except InvalidKeyError as exc:
        raise ConfigError(f"{ENV_PREFIX}: {exc}") from exc


def _seconds(raw: str | None, name: str, default: float) -> float:
    if raw is None or not raw.strip():
        return default
    try:
        return float(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r}: expected seconds, e.g. 2 or 0.5") from None


@dataclass(frozen=True, slots=True)
class ObservabilitySettings:
    """Powertools service name, metrics namespace and whether tracing is on."""

    service: str = DEFAULT_SERVICE
    namespace: str = DEFAULT_NAMESPACE
    tracing: bool = False


def observability_settings(
    environ: Mapping[str, str] | None = None,
    *,
    service: str | None = None,
    namespace: str | None = None,
    tracing: bool | None = None,
) -> ObservabilitySettings:
    env = os.environ if environ is None else environ
    if tracing is None:
        flag = env.get(ENV_TRACE_DISABLED)
        tracing = flag is not None and flag.strip().lower() in _FALSE
    return ObservabilitySettings(
        service=service or env.get(ENV_SERVICE) or DEFAULT_SERVICE,
        namespace=namespace or env.get(ENV_NAMESPACE) or DEFAULT_NAMESPACE,
        tracing=tracing,
    )
