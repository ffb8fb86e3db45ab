"""Stores: one contract (:mod:`.contract`), backends ``memory``, ``sqlite``, ``files``,
``dynamodb`` and ``s3``. Importing this package imports no backend (and never boto3)."""

from lambda_isr.store.contract import (
    AcquireResult,
    CacheRecord,
    HtmlStore,
    HtmlStream,
    Lease,
    LeaseHeld,
    MetaStore,
    Store,
    StoredObject,
)

__all__ = [
    "AcquireResult",
    "CacheRecord",
    "HtmlStore",
    "HtmlStream",
    "Lease",
    "LeaseHeld",
    "MetaStore",
    "Store",
    "StoredObject",
]
