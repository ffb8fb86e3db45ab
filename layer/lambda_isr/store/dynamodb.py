"""DynamoDB :class:`~lambda_isr.store.contract.MetaStore` on the table schema shared with
TableTheory/FaceTheory (``pk``/``sk``, ``META`` and ``LOCK`` items; see ``_ddb_item``).

Leases are TableTheory's ``LeaseManager`` calls; a commit is one ``TransactWriteItems``
(Put ``META`` fenced by generation and by any later purge + Delete ``LOCK`` fenced by token and
expiry).

Every call is bounded: ``timeout`` seconds per read (half of it to connect), ``max_attempts``
botocore attempts, and our own retry of a cancelled transaction stops within the same bound.
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any, cast

from botocore.exceptions import ClientError

from lambda_isr.clock import SYSTEM_CLOCK, Clock
from lambda_isr.errors import (
    CommitFencedError,
    ConfigError,
    InvalidKeyError,
    LeaseNotOwnedError,
    StoreUnavailableError,
)
from lambda_isr.store import _aws, _ddb_index, _ddb_item
from lambda_isr.store._ddb_purge import DdbPurges
from lambda_isr.store.contract import (
    AcquireResult,
    CacheRecord,
    Lease,
    LeaseHeld,
)
from lambda_isr.store.keys import LOCK_SK, META_SK, partition_key
from lambda_isr.store.rules import (
    DDB_LEASE_IS_FREE,
    DDB_LEASE_IS_MINE,
    DDB_LEASE_IS_OWNED,
    lease_expiry,
    lease_now,
    pass_expiry,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef, TransactWriteItemTypeDef

logger = logging.getLogger("lambda_isr.store")

CONDITION_FAILED = "ConditionalCheckFailedException"
CANCELLED = "TransactionCanceledException"
_TABLE_RE = re.compile(r"^[A-Za-z0-9_.-]{3,255}$")


def _uuid4() -> str:
    return str(uuid.uuid4())


def _n(value: int) -> AttributeValueTypeDef:
    return {"N": str(value)}


DEFAULT_RETENTION_SECONDS = 7 * 86_400
"""META ``ttl`` = generated time + this: DynamoDB deletes a page's metadata a week after its
last generation (TTL is garbage collection with lag, never freshness)."""


class DynamoDbMetaStore(DdbPurges):
    """Records and leases in one DynamoDB table (``pk`` + ``sk`` string keys)."""

    def __init__(
        self,
        table_name: str,
        *,
        client: DynamoDBClient | None = None,
        clock: Clock = SYSTEM_CLOCK,
        token_source: Callable[[], str] = _uuid4,
        tenant: str | None = None,
        raw_keys: bool = False,
        retention_seconds: int = DEFAULT_RETENTION_SECONDS,
        lease_ttl_buffer: int = 3600,
        timeout: float = _aws.DEFAULT_TIMEOUT,
        max_attempts: int = _aws.DEFAULT_MAX_ATTEMPTS,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not _TABLE_RE.fullmatch(table_name or ""):
            raise ConfigError(
                f"invalid DynamoDB table name {table_name!r}: 3-255 of A-Z a-z 0-9 _ . -"
            )
        if retention_seconds <= 0:
            raise ConfigError(f"retention_seconds must be > 0, got {retention_seconds!r}")
        if lease_ttl_buffer < 0:
            raise ConfigError(f"lease_ttl_buffer must be >= 0, got {lease_ttl_buffer!r}")
        if tenant is not None and (not tenant or "#" in tenant):
            raise ConfigError(f"invalid tenant {tenant!r}: non-empty, without '#'")
        _aws.validate(timeout, max_attempts)
        self._table = table_name
        self._client = client or _aws.shared_client(
            "dynamodb", timeout=timeout, max_attempts=max_attempts
        )
        self._clock = clock
        self._tokens = token_source
        self._tenant = tenant
        self._raw = raw_keys
        self._retention = retention_seconds
        self._buffer = lease_ttl_buffer
        self._retry_budget = _aws.call_bound(timeout, max_attempts)
        self._sleep = sleep
        self._indexed = _ddb_index.IndexMemo()

    def _key(self, cache_key: str, sk: str) -> dict[str, AttributeValueTypeDef]:
        pk = partition_key(cache_key, tenant=self._tenant, raw=self._raw)
        if len(pk.encode("utf-8", "surrogatepass")) > 2048:
            raise InvalidKeyError("raw cache key exceeds DynamoDB's 2048-byte partition key")
        return {"pk": {"S": pk}, "sk": {"S": sk}}

    def get(self, cache_key: str) -> CacheRecord | None:
        with _aws.boundary("read cache record"):
            item = self._client.get_item(
                TableName=self._table, Key=self._key(cache_key, META_SK), ConsistentRead=True
            ).get("Item")
        if item is None:
            return None
        try:
            return _ddb_item.decode_meta(cache_key, item)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            logger.warning("unreadable META item for %.200r ignored: %s", cache_key, exc)
            return None

    def try_acquire_lease(self, cache_key: str, duration: float) -> AcquireResult:
        now = self._clock.now()
        expires_at = lease_expiry(now, duration)
        token = self._tokens()
        # Timeline: |--- holder's lease ---| lease_expires_at ... now: the LOCK is free to take.
        try:
            with _aws.boundary("acquire lease", passthrough=frozenset({CONDITION_FAILED})):
                self._client.put_item(
                    TableName=self._table,
                    Item={
                        **self._key(cache_key, LOCK_SK),
                        "lease_token": {"S": token},
                        "lease_expires_at": _n(expires_at),
                        "ttl": _n(expires_at + self._buffer),
                    },
                    ConditionExpression=DDB_LEASE_IS_FREE,
                    ExpressionAttributeNames={
                        "#pk": "pk",
                        "#exp": "lease_expires_at",
                        "#pass": _ddb_item.PASS_UNTIL,
                    },
                    ExpressionAttributeValues={":now": _n(lease_now(now))},
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                )
        except ClientError as exc:
            old = cast("dict[str, Any]", exc.response).get("Item") or {}
            return LeaseHeld(
                cache_key,
                _ddb_item.number_of(old, "lease_expires_at"),
                _ddb_item.number_of(old, _ddb_item.PASS_UNTIL),
            )
        return Lease(cache_key, token, float(expires_at), now)

    def mark_uncacheable(self, lease: Lease, seconds: float) -> bool:
        now = self._clock.now()
        until = pass_expiry(now, seconds)
        # Ours (token): the lease ends now (free for canonical acquirers), the marker stays.
        try:
            with _aws.boundary("mark uncacheable", passthrough=frozenset({CONDITION_FAILED})):
                self._client.update_item(
                    TableName=self._table,
                    Key=self._key(lease.cache_key, LOCK_SK),
                    UpdateExpression="SET #exp = :now, #pass = :until, #ttl = :ttl",
                    ConditionExpression=DDB_LEASE_IS_MINE,
                    ExpressionAttributeNames={
                        "#tok": "lease_token",
                        "#exp": "lease_expires_at",
                        "#pass": _ddb_item.PASS_UNTIL,
                        "#ttl": "ttl",
                    },
                    ExpressionAttributeValues={
                        ":now": _n(lease_now(now)),
                        ":until": _n(until),
                        ":ttl": _n(until + self._buffer),
                        ":tok": {"S": lease.token},
                    },
                )
        except ClientError:
            return False  # not ours any more: leave whoever holds it alone
        return True

    def refresh_lease(self, lease: Lease, duration: float) -> Lease:
        now = self._clock.now()
        expires_at = lease_expiry(now, duration)
        # Ours (token) and still live (expiry in the future): extend it.
        try:
            with _aws.boundary("refresh lease", passthrough=frozenset({CONDITION_FAILED})):
                self._client.update_item(
                    TableName=self._table,
                    Key=self._key(lease.cache_key, LOCK_SK),
                    UpdateExpression="SET #exp = :exp, #ttl = :ttl",
                    ConditionExpression=DDB_LEASE_IS_OWNED,
                    ExpressionAttributeNames={
                        "#tok": "lease_token",
                        "#exp": "lease_expires_at",
                        "#ttl": "ttl",
                    },
                    ExpressionAttributeValues={
                        ":exp": _n(expires_at),
                        ":ttl": _n(expires_at + self._buffer),
                        ":tok": {"S": lease.token},
                        ":now": _n(lease_now(now)),
                    },
                )
        except ClientError as exc:
            raise LeaseNotOwnedError(
                f"lease on {lease.cache_key[:200]!r} is no longer held"
            ) from exc
        return replace(lease, expires_at=float(expires_at))

    def commit_generation(self, lease: Lease, record: CacheRecord) -> None:
        meta_key = self._key(record.cache_key, META_SK)
        item = _ddb_item.encode_meta(meta_key["pk"]["S"], record, retention_seconds=self._retention)
        extras = self._commit_extras(record)
        index, indexed = self.index_writes(record, meta_key["pk"]["S"])
        codes: list[str] = []
        cancelled: ClientError | None = None
        for attempt in _aws.retrying(_aws.COMMIT_ATTEMPTS, self._sleep, budget=self._retry_budget):
            now = self._clock.now()
            try:
                with _aws.boundary("commit generation", passthrough=frozenset({CANCELLED})):
                    self._client.transact_write_items(
                        ClientRequestToken=_request_token(
                            self._table, lease.token, now, attempt, item
                        ),
                        TransactItems=_ddb_item.commit_items(
                            self._table,
                            item,
                            record.generated_at,
                            lock_key=self._key(lease.cache_key, LOCK_SK),
                            token=lease.token,
                            now=now,
                        )
                        + extras
                        + index,
                    )
                indexed()
                return
            except ClientError as exc:
                reasons = cast("dict[str, Any]", exc.response).get("CancellationReasons") or []
                codes = [str(r.get("Code", "None")) for r in reasons]
                meta_code = [*codes, "None"][0]
                ours = codes[1 : 2 + len(extras)]  # the LOCK, then the subclass's items
                if "ConditionalCheckFailed" in ours:
                    raise LeaseNotOwnedError(
                        f"lease on {lease.cache_key[:200]!r} (or what it was taken for) is no"
                        " longer held"
                    ) from exc
                if meta_code == "ConditionalCheckFailed":
                    raise CommitFencedError(
                        f"stored record of {record.cache_key[:200]!r} is newer than this"
                        " generation, or was purged after it started"
                    ) from exc
                if not set(codes) & _RETRYABLE_REASONS:
                    raise StoreUnavailableError(f"commit generation cancelled: {codes}") from exc
                cancelled = exc
        raise StoreUnavailableError(f"commit generation cancelled: {codes}") from cancelled

    def _commit_extras(self, record: CacheRecord) -> list[TransactWriteItemTypeDef]:
        """Items a subclass commits in the same transaction, after META and LOCK (the async
        consumer completes its ``REQ#`` record). A failed condition on one of them means the
        committer no longer owns what it committed for: ``LeaseNotOwnedError``."""
        return []

    def release_lease(self, lease: Lease) -> None:
        try:
            with _aws.boundary("release lease", passthrough=frozenset({CONDITION_FAILED})):
                self._client.delete_item(
                    TableName=self._table,
                    Key=self._key(lease.cache_key, LOCK_SK),
                    ConditionExpression=DDB_LEASE_IS_MINE,
                    ExpressionAttributeNames={"#tok": "lease_token"},
                    ExpressionAttributeValues={":tok": {"S": lease.token}},
                )
        except ClientError:
            pass  # not ours any more: nothing to release
        except StoreUnavailableError as exc:  # best effort: the lease expires by itself
            logger.warning("lease release failed (it will expire): %s", exc)


_RETRYABLE_REASONS = frozenset(
    {
        "TransactionConflict",
        "ThrottlingError",
        "ProvisionedThroughputExceeded",
        "RequestLimitExceeded",
    }
)


def _request_token(*request: object) -> str:
    """Idempotency token of one attempt: botocore's resend of it is deduplicated by DynamoDB."""
    return hashlib.sha256(repr(request).encode()).hexdigest()[:36]
