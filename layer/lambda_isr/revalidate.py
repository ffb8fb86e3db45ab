"""``revalidate_async``: soft-purge pages now, regenerate them from a queue (no visitor waits).

Each page is soft-purged at once (stale for every reader, still servable), then one message per
page goes to the standard SQS queue named by ``LAMBDA_ISR_REVALIDATION_QUEUE_URL``. The
consumer (:mod:`lambda_isr.consumer`) renders it with no client and commits it under a ``REQ#``
idempotency record (:mod:`lambda_isr.store.requests`), so duplicate deliveries render once.

A message (JSON, version 1)::

    {"v": 1, "path": "/posts/a", "host": "example.com" | null, "tenant": "acme" | null,
     "cache_key": "...", "idempotency_key": "<request id> | <sha256(cache key)>#<ms>",
     "enqueued_at_ms": 1767225600000}
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import unquote

from lambda_isr import purge
from lambda_isr.errors import ConfigError
from lambda_isr.isr.keys import DEFAULT_TENANT, page_key, tenant_key
from lambda_isr.settings import ENV_REVALIDATION_QUEUE
from lambda_isr.store.contract import Store
from lambda_isr.store.index import key_parts

__all__ = ["MESSAGE_VERSION", "message_for", "request_hash", "revalidate_async"]

MESSAGE_VERSION = 1
_BATCH = 10  # SendMessageBatch's limit


def request_hash(message: Mapping[str, Any]) -> str:
    """sha256 of the inputs that matter to a regeneration (not the enqueue time)."""
    inputs = {name: message.get(name) for name in ("path", "host", "tenant", "cache_key")}
    return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()


def message_for(
    path: str,
    *,
    host: str | None,
    tenant: str | None,
    request_id: str | None = None,
    enqueued_at: float | None = None,
) -> dict[str, Any]:
    """The message for one page (module docstring)."""
    ms = round((time.time() if enqueued_at is None else enqueued_at) * 1000)
    cache_key = page_key(path, host=host, tenant=DEFAULT_TENANT if tenant is None else tenant)
    key = request_id or f"{hashlib.sha256(cache_key.encode()).hexdigest()}#{ms}"
    return {
        "v": MESSAGE_VERSION,
        "path": path,
        "host": host,
        "tenant": tenant,
        "cache_key": cache_key,
        "idempotency_key": key,
        "enqueued_at_ms": ms,
    }


def revalidate_async(
    paths: Iterable[str] = (),
    tags: Iterable[str] = (),
    host: str | None = None,
    tenant: str | None = None,
    *,
    request_id: str | None = None,
    queue_url: str | None = None,
    sqs: Any = None,
    store: Store | None = None,
    app: object = None,
) -> purge.PurgeResult:
    """Soft-purge ``paths`` (and the pages tagged ``tags``) and enqueue one regeneration per
    page. ``host`` / ``tenant`` as for :func:`~lambda_isr.purge.invalidate` (the purge covers
    every variant; the messages rebuild the plain page under ``host``). ``request_id`` (e.g.
    the caller's own request id) is the idempotency key of every message it sends: a retried
    call is regenerated once. Returns the purge result (``PurgeKind.REVALIDATE``)."""
    url = queue_url or os.environ.get(ENV_REVALIDATION_QUEUE) or None
    if url is None:
        raise ConfigError(f"revalidate_async needs the queue: set {ENV_REVALIDATION_QUEUE}")
    wanted = [paths] if isinstance(paths, str) else list(paths)
    tag_list = [tags] if isinstance(tags, str) else list(tags)
    by_path = purge.invalidate(wanted, host=host, tenant=tenant, store=store, app=app)
    pages = {(p, host, tenant): None for p in wanted}
    purged, keys, cdn = dict(by_path.purged), dict.fromkeys(by_path.cache_keys), by_path.cdn
    if tag_list:
        by_tag = getattr(purge, "invalidate_tags", None)
        if by_tag is None:
            raise ConfigError("revalidate_async(tags=...) needs the tag index (not available yet)")
        tagged = by_tag(tag_list, store=store, app=app)
        purged.update(tagged.purged)
        keys.update(dict.fromkeys(tagged.cache_keys))
        cdn = cdn or tagged.cdn
        for key in tagged.cache_keys:
            parts = key_parts(key)
            if parts is not None:
                who = None if parts.tenant == tenant_key(None) else unquote(parts.tenant)
                pages[(parts.path, parts.host, who)] = None
    now = time.time()
    messages = [
        message_for(p, host=h, tenant=t, request_id=request_id, enqueued_at=now)
        for p, h, t in pages
    ]
    client = sqs if sqs is not None else _sqs()
    for start in range(0, len(messages), _BATCH):
        batch = messages[start : start + _BATCH]
        answer = client.send_message_batch(
            QueueUrl=url,
            Entries=[{"Id": str(i), "MessageBody": json.dumps(m)} for i, m in enumerate(batch)],
        )
        if answer.get("Failed"):
            failed = [batch[int(f["Id"])]["path"] for f in answer["Failed"]]
            raise RuntimeError(f"could not enqueue the regeneration of {failed}")
    return purge.PurgeResult(purge.PurgeKind.REVALIDATE, purged, cdn, tuple(keys))


def _sqs() -> Any:
    import boto3  # noqa: PLC0415 - only when a queue is used

    return boto3.client("sqs")
