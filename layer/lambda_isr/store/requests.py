"""``REQ#`` idempotency records: one regeneration intent, exactly-once-ish, on the ISR table.

TableTheory's ISR idempotency guidance, on the same table and the same partition as the page
(``pk`` of the cache key, ``sk = REQ#<idempotency key>``). The item (canonical attributes first,
then lambda-isr's additive ones)::

    request_hash      S  sha256 of the inputs that matter (path, host, tenant, cache key)
    status            S  STARTED | COMPLETED | FAILED
    result_s3_key     S  the committed body's key (COMPLETED with a stored page only)
    ttl               N  epoch seconds: enqueue time + retention (always)
    owner_token       S  the worker that holds it (STARTED), additive
    in_progress_until N  epoch seconds the owner may work until (STARTED), additive
    enqueued_at_ms    N  when the intent was enqueued, additive
    generated_at_ms   N  when the committed render started (COMPLETED), additive
    reason            S  why it FAILED, additive

Rules (:meth:`DynamoDbRequests.claim`): created with ``attribute_not_exists``; the same key with
a different ``request_hash`` fails closed (``MISMATCH``); COMPLETED short-circuits only when its
committed render started at or after this intent's enqueue; STARTED by a live owner is ``BUSY``;
STARTED past ``in_progress_until``, FAILED, or COMPLETED by an older render are taken over with
a condition on the status and owner seen. The commit is one transaction
(:class:`CompletingMeta`): Put META (the generation and purge fences of ``commit_generation``),
Delete LOCK (owned), Update ``REQ#`` to COMPLETED (still ours and STARTED).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Any, cast

from botocore.exceptions import ClientError

from lambda_isr.clock import SYSTEM_CLOCK, Clock
from lambda_isr.store import _aws
from lambda_isr.store.contract import CacheRecord
from lambda_isr.store.dynamodb import CONDITION_FAILED, DynamoDbMetaStore

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef, TransactWriteItemTypeDef

REQ_PREFIX = "REQ#"
DEFAULT_REQUEST_RETENTION = 7 * 86_400
_RETRYABLE = frozenset({"TransactionConflict", "ThrottlingError", "RequestLimitExceeded"})


class RequestStatus(Enum):
    STARTED = "STARTED"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"


class Claim(Enum):
    CLAIMED = "claimed"
    """This worker owns the intent now (created, or taken over)."""
    DONE = "done"
    """COMPLETED by a render that started after the enqueue: nothing to do."""
    BUSY = "busy"
    """A live worker owns it: try later."""
    MISMATCH = "mismatch"
    """The same key with a different ``request_hash``: fail closed."""


@dataclass(frozen=True, slots=True)
class RequestRecord:
    key: str
    request_hash: str
    status: RequestStatus
    owner_token: str | None = None
    in_progress_until: float | None = None
    result_s3_key: str | None = None
    enqueued_at: float | None = None
    generated_at: float | None = None


@dataclass(frozen=True, slots=True)
class Claimed:
    claim: Claim
    token: str | None = None
    seen: RequestRecord | None = None


def _n(value: float) -> AttributeValueTypeDef:
    return {"N": str(int(value))}


def decode(item: Any) -> RequestRecord:
    def num(name: str, scale: float = 1.0) -> float | None:
        raw = item.get(name, {}).get("N")
        return float(raw) / scale if raw is not None else None

    def text(name: str) -> str | None:
        value = item.get(name, {}).get("S")
        return str(value) if value is not None else None

    return RequestRecord(
        key=str(item["sk"]["S"]).removeprefix(REQ_PREFIX),
        request_hash=text("request_hash") or "",
        status=RequestStatus(text("status")),
        owner_token=text("owner_token"),
        in_progress_until=num("in_progress_until"),
        result_s3_key=text("result_s3_key"),
        enqueued_at=num("enqueued_at_ms", 1000.0),
        generated_at=num("generated_at_ms", 1000.0),
    )


class DynamoDbRequests:
    """``REQ#`` records beside a :class:`DynamoDbMetaStore`'s pages (same table, client, keys)."""

    def __init__(
        self,
        meta: DynamoDbMetaStore,
        *,
        clock: Clock = SYSTEM_CLOCK,
        retention_seconds: int = DEFAULT_REQUEST_RETENTION,
        token_source: Callable[[], str] = lambda: str(uuid.uuid4()),
    ) -> None:
        self.meta = meta
        self.clock = clock
        self.retention = retention_seconds
        self.tokens = token_source

    def key(self, cache_key: str, idem: str) -> dict[str, AttributeValueTypeDef]:
        return self.meta._key(cache_key, REQ_PREFIX + idem)

    def get(self, cache_key: str, idem: str) -> RequestRecord | None:
        with _aws.boundary("read request record"):
            item = self.meta._client.get_item(
                TableName=self.meta._table, Key=self.key(cache_key, idem), ConsistentRead=True
            ).get("Item")
        return decode(item) if item is not None else None

    def claim(
        self, cache_key: str, idem: str, request_hash: str, *, enqueued_at: float, until: float
    ) -> Claimed:
        """Create the record STARTED, or decide from the one that exists (module docstring)."""
        token, now = self.tokens(), self.clock.now()
        item: dict[str, AttributeValueTypeDef] = {
            **self.key(cache_key, idem),
            "request_hash": {"S": request_hash},
            "status": {"S": RequestStatus.STARTED.value},
            "ttl": _n(enqueued_at + self.retention),
            "owner_token": {"S": token},
            "in_progress_until": _n(until),
            "enqueued_at_ms": _n(enqueued_at * 1000),
        }
        try:
            with _aws.boundary("create request record", passthrough=frozenset({CONDITION_FAILED})):
                self.meta._client.put_item(
                    TableName=self.meta._table,
                    Item=item,
                    ConditionExpression="attribute_not_exists(pk)",
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                )
            return Claimed(Claim.CLAIMED, token)
        except ClientError as exc:
            old = cast("dict[str, Any]", exc.response).get("Item")
        seen = decode(old) if old else self.get(cache_key, idem)
        if seen is None:  # deleted meanwhile (TTL): try once more later
            return Claimed(Claim.BUSY)
        if seen.request_hash != request_hash:
            return Claimed(Claim.MISMATCH, seen=seen)
        if seen.status is RequestStatus.COMPLETED and (seen.generated_at or 0) >= enqueued_at:
            return Claimed(Claim.DONE, seen=seen)
        if seen.status is RequestStatus.STARTED and (seen.in_progress_until or 0) > now:
            return Claimed(Claim.BUSY, seen=seen)
        return self._take_over(cache_key, idem, seen, token, enqueued_at=enqueued_at, until=until)

    def _take_over(
        self,
        cache_key: str,
        idem: str,
        seen: RequestRecord,
        token: str,
        *,
        enqueued_at: float,
        until: float,
    ) -> Claimed:
        condition = "#st = :seen AND request_hash = :h"
        values: dict[str, AttributeValueTypeDef] = {
            ":seen": {"S": seen.status.value},
            ":h": {"S": seen.request_hash},
            ":started": {"S": RequestStatus.STARTED.value},
            ":tok": {"S": token},
            ":until": _n(until),
            ":enq": _n(enqueued_at * 1000),
            ":ttl": _n(enqueued_at + self.retention),
        }
        if seen.owner_token is not None:
            condition += " AND owner_token = :old"
            values[":old"] = {"S": seen.owner_token}
        try:
            with _aws.boundary("take over request", passthrough=frozenset({CONDITION_FAILED})):
                self.meta._client.update_item(
                    TableName=self.meta._table,
                    Key=self.key(cache_key, idem),
                    UpdateExpression=(
                        "SET #st = :started, owner_token = :tok, in_progress_until = :until,"
                        " enqueued_at_ms = :enq, #ttl = :ttl REMOVE reason"
                    ),
                    ConditionExpression=condition,
                    ExpressionAttributeNames={"#st": "status", "#ttl": "ttl"},
                    ExpressionAttributeValues=values,
                )
        except ClientError:
            return Claimed(Claim.BUSY, seen=seen)  # another worker took it first
        return Claimed(Claim.CLAIMED, token, seen)

    def _finish(
        self, cache_key: str, idem: str, token: str, status: RequestStatus, **extra: str
    ) -> TransactWriteItemTypeDef:
        sets = ["#st = :status"]
        values: dict[str, AttributeValueTypeDef] = {
            ":status": {"S": status.value},
            ":tok": {"S": token},
            ":started": {"S": RequestStatus.STARTED.value},
        }
        for name, value in extra.items():
            sets.append(f"{name} = :{name}")
            values[f":{name}"] = {"N": value} if name.endswith("_ms") else {"S": value}
        return {
            "Update": {
                "TableName": self.meta._table,
                "Key": self.key(cache_key, idem),
                "UpdateExpression": f"SET {', '.join(sets)} REMOVE in_progress_until",
                "ConditionExpression": "owner_token = :tok AND #st = :started",
                "ExpressionAttributeNames": {"#st": "status"},
                "ExpressionAttributeValues": values,
            }
        }

    def finish(
        self, cache_key: str, idem: str, token: str, status: RequestStatus, **extra: str
    ) -> bool:
        """COMPLETED without a commit, or FAILED (``False``: no longer ours)."""
        update = self._finish(cache_key, idem, token, status, **extra)["Update"]
        try:
            with _aws.boundary("finish request", passthrough=frozenset({CONDITION_FAILED})):
                self.meta._client.update_item(**update)
        except ClientError:
            return False
        return True

    def completing(self, cache_key: str, idem: str, token: str) -> CompletingMeta:
        return CompletingMeta(self.meta, self, cache_key, idem, token)


class CompletingMeta(DynamoDbMetaStore):
    """The page's meta store whose commit also completes one ``REQ#`` record, atomically."""

    def __init__(
        self, inner: DynamoDbMetaStore, ledger: DynamoDbRequests, cache_key: str, idem: str,
        token: str,
    ) -> None:  # fmt: skip
        self.__dict__.update(inner.__dict__)
        self._ledger, self._req = ledger, (cache_key, idem, token)

    def _commit_extras(self, record: CacheRecord) -> list[TransactWriteItemTypeDef]:
        cache_key, idem, token = self._req
        return [
            self._ledger._finish(
                cache_key,
                idem,
                token,
                RequestStatus.COMPLETED,
                result_s3_key=record.html_key,
                generated_at_ms=str(round(record.generated_at * 1000)),
            )
        ]
