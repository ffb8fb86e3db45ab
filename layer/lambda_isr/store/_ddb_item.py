"""The ``META`` item codec: canonical attributes plus lambda-isr's additive ones.

Canonical (what TableTheory/FaceTheory readers know): ``s3_key`` S, ``generated_at`` N (integer
epoch seconds), ``revalidate_seconds`` N, ``etag`` S (optional), ``ttl`` N. Additive attributes
never change what a canonical reader concludes: ``generated_at_ms`` (sub-second precision,
used only when it agrees with ``generated_at``), ``cache_key``, ``status``, ``content_type``,
``headers``, ``tags``, ``content_hash``, ``size``, ``route``, ``static`` (BOOL: a prerendered
page, whose item has no ``ttl``); a soft purge writes
``revalidate_seconds = 0`` and keeps the policy in ``revalidate_policy`` with the time in
``invalidated_at``. The ``LOCK`` item may carry ``pass_until`` (N, epoch seconds): a
hit-for-pass marker, which lambda-isr's acquire condition honours and a canonical acquirer
ignores (its put replaces the item).

A header or content type holding CR, LF or NUL (written by another writer) makes the item
unusable: a miss, never a 500.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any, TypeVar

from lambda_isr.store.contract import DEFAULT_CONTENT_TYPE, CacheRecord, header_ok
from lambda_isr.store.rules import (
    DDB_GENERATION_FENCE_OPEN,
    DDB_LEASE_IS_OWNED,
    DDB_PURGE_FENCE_OPEN,
    DDB_PURGE_MOVES_FORWARD,
    future_limit,
    lease_now,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import (
        AttributeValueTypeDef,
        TransactWriteItemTypeDef,
    )

    Item = Mapping[str, AttributeValueTypeDef]

S3_KEY = "s3_key"
GENERATED_AT = "generated_at"
REVALIDATE = "revalidate_seconds"
ETAG = "etag"
TTL = "ttl"
GENERATED_AT_MS = "generated_at_ms"
INVALIDATED_AT = "invalidated_at"
POLICY = "revalidate_policy"
PASS_UNTIL = "pass_until"  # noqa: S105 - an attribute name

_T = TypeVar("_T")


def split_time(generated_at: float) -> tuple[int, int]:
    """``(seconds, milliseconds)``: ``seconds`` is the floor of the millisecond time."""
    ms = round(generated_at * 1000)
    return ms // 1000, ms


def exact_time(t: float) -> str:
    """An epoch time as a DynamoDB number with the float's full precision (``repr``).

    ``invalidated_at`` is stored this way, and commit conditions compare a generation time
    against it this way: the comparison agrees exactly with comparing the floats.
    """
    if not math.isfinite(t):
        raise ValueError(f"time {t!r} is not finite")
    return repr(float(t))


def encode_meta(
    pk: str, record: CacheRecord, *, retention_seconds: int
) -> dict[str, AttributeValueTypeDef]:
    seconds, ms = split_time(record.generated_at)
    item: dict[str, AttributeValueTypeDef] = {
        "pk": {"S": pk},
        "sk": {"S": "META"},
        S3_KEY: {"S": record.html_key},
        GENERATED_AT: {"N": str(seconds)},
        REVALIDATE: {"N": str(record.revalidate_seconds)},
        GENERATED_AT_MS: {"N": str(ms)},
        "cache_key": {"S": readable(record.cache_key)},
        "status": {"N": str(record.status)},
        "content_type": {"S": record.content_type},
        "headers": {"L": [{"L": [{"S": n}, {"S": v}]} for n, v in record.headers]},
    }
    if record.static:
        item["static"] = {"BOOL": True}  # SSG: no ttl, never collected
    else:
        item[TTL] = {"N": str(seconds + retention_seconds)}
    if record.etag is not None:
        item[ETAG] = {"S": record.etag}
    if record.tags:
        item["tags"] = {"SS": sorted(record.tags)}
    if record.content_hash is not None:
        item["content_hash"] = {"S": record.content_hash}
    if record.size is not None:
        item["size"] = {"N": str(record.size)}
    if record.route is not None:
        item["route"] = {"S": record.route}
    return item


def commit_items(
    table: str,
    item: dict[str, AttributeValueTypeDef],
    generated_at: float,
    *,
    lock_key: dict[str, AttributeValueTypeDef],
    token: str,
    now: float,
) -> list[TransactWriteItemTypeDef]:
    """The commit transaction: put META fenced by :func:`rules.commit_fence` (the generation
    fence, never replacing a newer META unless it is from beyond the tolerance in the future,
    then the purge fence: a render started at or before the stored purge must not clear it),
    and delete LOCK fenced by the lease (token and expiry)."""
    seconds, ms = split_time(generated_at)
    condition = f"({DDB_GENERATION_FENCE_OPEN}) AND ({DDB_PURGE_FENCE_OPEN})"
    return [
        {
            "Put": {
                "TableName": table,
                "Item": item,
                "ConditionExpression": condition,
                "ExpressionAttributeNames": {
                    "#pk": "pk",
                    "#gen": GENERATED_AT,
                    "#ms": GENERATED_AT_MS,
                    "#inv": INVALIDATED_AT,
                    "#rs": REVALIDATE,
                },
                "ExpressionAttributeValues": {
                    ":s": {"N": str(seconds)},
                    ":ms": {"N": str(ms)},
                    ":gen": {"N": exact_time(generated_at)},
                    ":zero": {"N": "0"},
                    ":future": {"N": str(future_limit(now))},
                },
            }
        },
        {
            "Delete": {
                "TableName": table,
                "Key": lock_key,
                "ConditionExpression": DDB_LEASE_IS_OWNED,
                "ExpressionAttributeNames": {"#tok": "lease_token", "#exp": "lease_expires_at"},
                "ExpressionAttributeValues": {
                    ":tok": {"S": token},
                    ":now": {"N": str(lease_now(now))},
                },
            }
        },
    ]


def purge_condition(now: float, tag: str | None) -> dict[str, Any]:
    """The soft purge's condition (:data:`DDB_PURGE_MOVES_FORWARD`; through a tag entry, also
    that the page still carries the tag) with its names and values."""
    names = {"#pk": "pk", "#pol": POLICY, "#rs": REVALIDATE, "#inv": INVALIDATED_AT}
    values: dict[str, Any] = {":now": {"N": exact_time(now)}, ":zero": {"N": "0"}}
    condition = DDB_PURGE_MOVES_FORWARD
    if tag is not None:
        condition = f"({condition}) AND contains(#tags, :tag)"
        names["#tags"] = "tags"
        values[":tag"] = {"S": tag}
    return {
        "ConditionExpression": condition,
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": values,
    }


def number_of(item: Mapping[str, Any], name: str) -> float | None:
    """A number attribute of a raw item (``ALL_OLD``), or ``None`` when absent or unusable."""
    raw = item.get(name, {}).get("N")
    try:
        return float(raw) if raw else None
    except ValueError:
        return None


def readable(text: str) -> str:
    """The cache key as a valid UTF-8 string (lone surrogates escaped), for humans."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def decode_meta(cache_key: str, item: Item) -> CacheRecord:
    """A :class:`CacheRecord` from a ``META`` item; ``ValueError`` if it is unusable."""
    seconds = _number(item, GENERATED_AT)
    stored_revalidate = _integer(item, REVALIDATE)
    generated_at = float(seconds)
    ms = _optional(item, GENERATED_AT_MS, _integer)
    if ms is not None and ms // 1000 == math.floor(seconds):
        generated_at = ms / 1000
    revalidate, invalidated_at = stored_revalidate, None
    purged_at = _optional(item, INVALIDATED_AT, _number)
    policy = _optional(item, POLICY, _integer)
    # A purge counts only while the canonical attribute still says so (revalidate 0).
    if purged_at is not None and stored_revalidate == 0:
        invalidated_at = float(purged_at)
        revalidate = policy if policy is not None else 0
    status = _optional(item, "status", _integer)
    if status is not None and not 100 <= status <= 599:
        raise ValueError(f"status {status} out of range")
    headers = _optional(item, "headers", _headers)
    content_type = _optional(item, "content_type", _string) or DEFAULT_CONTENT_TYPE
    if not header_ok("content-type", content_type) or not all(
        header_ok(n, v) for n, v in headers or ()
    ):
        raise ValueError("a stored header cannot go out in a response (CR, LF, NUL)")
    tags = item.get("tags")
    return CacheRecord(
        cache_key=cache_key,
        html_key=_string(item, S3_KEY),
        generated_at=generated_at,
        revalidate_seconds=revalidate,
        etag=_optional(item, ETAG, _string),
        status=200 if status is None else status,
        content_type=content_type,
        headers=headers or (),
        tags=frozenset(tags["SS"]) if tags is not None and "SS" in tags else frozenset(),
        content_hash=_optional(item, "content_hash", _string),
        size=_optional(item, "size", _integer),
        invalidated_at=invalidated_at,
        route=_optional(item, "route", _string),
        static=item.get("static", {}).get("BOOL") is True,
    )


def _string(item: Item, name: str) -> str:
    value = item.get(name, {}).get("S")
    if not isinstance(value, str):
        raise ValueError(f"{name} missing or not a string")
    return value


def _number(item: Item, name: str) -> Decimal:
    raw = item.get(name, {}).get("N")
    try:
        value = Decimal(str(raw)) if isinstance(raw, str) else None
    except InvalidOperation:
        value = None
    if value is None or not value.is_finite():
        raise ValueError(f"{name} missing or not a number")
    return value


def _integer(item: Item, name: str) -> int:
    value = _number(item, name)
    if value != value.to_integral_value():
        raise ValueError(f"{name} is not an integer")
    return int(value)


def _headers(item: Item, name: str) -> tuple[tuple[str, str], ...]:
    pairs = []
    listed = item[name].get("L")
    if not isinstance(listed, list):
        raise ValueError("headers is not a list")
    for pair in listed:
        names_values = [part.get("S") for part in pair.get("L", ())]
        if len(names_values) != 2 or not all(isinstance(x, str) for x in names_values):
            raise ValueError("headers malformed")
        pairs.append((str(names_values[0]), str(names_values[1])))
    return tuple(pairs)


def _optional(item: Item, name: str, read: Callable[[Item, str], _T]) -> _T | None:
    return read(item, name) if name in item else None
