"""The revalidation consumer: SQS messages from ``revalidate_async`` -> pages regenerated once.

``Handler: lambda_isr.consumer.handler`` with ``LAMBDA_ISR_APP=module.attr`` naming the site
(a ``FaceApp`` or an ``@isr_face`` handler). Powertools' batch processing reports partial batch
failures (the event source mapping needs ``FunctionResponseTypes: [ReportBatchItemFailures]``).

Per message (:func:`consume`): resolve the page (route, params, the site host) -> read META
(fresh and rendered after the enqueue: done) -> claim its ``REQ#`` record
(:mod:`lambda_isr.store.requests`) -> regenerate with no client under the lease
(:func:`~lambda_isr.isr.detached.regenerate`), committing META + LOCK + ``REQ#`` in one
transaction -> purge the CDN when one is configured. A message is *retried* (returned in
``batchItemFailures``) when a live worker or a visitor is regenerating the page, or the render
failed; it is *acknowledged* when done, when the page cannot be rebuilt from a message (its key
varies by a header or cookie), and when its key was replayed with a different payload (fail
closed: logged and counted, never retried forever).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, replace
from enum import Enum
from typing import Any

from lambda_isr.errors import ConfigError, LambdaIsrError
from lambda_isr.face import IsrFace
from lambda_isr.isr.detached import DetachedOutcome, detached_request, regenerate
from lambda_isr.isr.driver import Face, IsrDriver
from lambda_isr.isr.keys import build_key
from lambda_isr.revalidate import MESSAGE_VERSION, request_hash
from lambda_isr.settings import ENV_APP
from lambda_isr.store.contract import Store

LOG = logging.getLogger("lambda_isr.consumer")
DEFAULT_IN_PROGRESS_SECONDS = 900.0
"""How long a claim lasts when the invocation's remaining time is unknown (Lambda's maximum)."""


class RetryLaterError(LambdaIsrError):
    """The message goes back to the queue (``batchItemFailures``)."""


class Handled(Enum):
    COMMITTED = "committed"
    ALREADY_DONE = "already-done"
    NOT_STORED = "not-stored"
    MISMATCH = "mismatch"
    UNKEYABLE = "unkeyable"
    NO_ROUTE = "no-route"


@dataclass(frozen=True, slots=True)
class Page:
    driver: IsrDriver
    face: Face
    host: str | None


def resolve(app: object, path: str) -> Page | None:
    """The driver and face that render ``path`` (``None``: no cached route)."""
    if isinstance(app, IsrFace):
        return Page(app.driver, app.fn, None)
    router = getattr(app, "router", None)
    found = router.match(path) if router is not None else None
    if found is None or found.value.driver is None:
        return None
    route = found.value
    params = found.params

    def face(request: Any) -> Any:
        return route.render(replace(request, params=params))

    return Page(route.driver, face, getattr(app, "site_host", None))


def consume(
    app: object,
    body: str,
    *,
    message_id: str = "",
    remaining: float | None = None,
    counters: Callable[[str], None] = lambda _name: None,
) -> Handled:
    """Regenerate the page of one message; raises :class:`RetryLaterError` to retry it."""
    from lambda_isr.cloudfront import purge_cdn  # noqa: PLC0415
    from lambda_isr.store.dynamodb import DynamoDbMetaStore  # noqa: PLC0415
    from lambda_isr.store.requests import Claim, DynamoDbRequests, RequestStatus  # noqa: PLC0415

    message = json.loads(body)
    if message.get("v") != MESSAGE_VERSION:
        raise ValueError(f"unknown message version {message.get('v')!r}")
    path = str(message["path"])
    page = resolve(app, path)
    if page is None:
        LOG.warning("revalidation of %s: no cached route serves it; acknowledged", path)
        return Handled.NO_ROUTE
    keys = page.driver.config.keys
    if keys.vary_headers or keys.vary_cookies:
        LOG.warning("revalidation of %s: its key varies by a header or cookie; soft-purged only",
                    path)  # fmt: skip
        return Handled.UNKEYABLE
    request = detached_request(path, host=page.host or message.get("host") or "")
    if message.get("tenant") is not None:
        request = replace(request, tenant=str(message["tenant"]))
    key = build_key(request, keys).key
    if key is None:
        return Handled.UNKEYABLE
    driver, enqueued = page.driver, float(message["enqueued_at_ms"]) / 1000.0
    store = driver.store()
    record = store.meta.get(key)
    now = driver.clock.now()
    if record is not None and record.is_fresh(now) and record.generated_at >= enqueued:
        counters("RevalidationAlreadyFresh")
        return Handled.ALREADY_DONE
    meta, idem, token, ledger = store.meta, str(message["idempotency_key"]), None, None
    if isinstance(meta, DynamoDbMetaStore):
        ledger = DynamoDbRequests(meta, clock=driver.clock)
        until = now + (remaining if remaining is not None else DEFAULT_IN_PROGRESS_SECONDS)
        claimed = ledger.claim(key, idem, request_hash(message), enqueued_at=enqueued, until=until)
        if claimed.claim is Claim.MISMATCH:
            LOG.error("revalidation %s: key %r replayed with a different payload: acknowledged,"
                      " not regenerated", message_id, idem)  # fmt: skip
            counters("RevalidationReplayRejected")
            return Handled.MISMATCH
        if claimed.claim is Claim.DONE:
            counters("RevalidationDuplicate")
            return Handled.ALREADY_DONE
        if claimed.claim is Claim.BUSY:
            counters("RevalidationBusy")
            raise RetryLaterError(f"{path}: another worker is regenerating it")
        token = claimed.token
        assert token is not None
        meta = ledger.completing(key, idem, token)
    worker = IsrDriver(
        driver.config, lambda: Store(meta, store.html), clock=driver.clock, bodies=driver.bodies
    )
    done = regenerate(worker, page.face, request)
    if done.outcome is DetachedOutcome.COMMITTED:
        counters("RevalidationCommitted")
        purge_cdn([path], reference=message_id or None, logger=LOG)
        return Handled.COMMITTED
    if done.outcome in (DetachedOutcome.NOT_STORED, DetachedOutcome.UNCACHEABLE):
        if ledger is not None and token is not None:
            ledger.finish(key, idem, token, RequestStatus.COMPLETED)
        LOG.warning("revalidation of %s rendered, not stored: %s", path, done.reason)
        return Handled.NOT_STORED
    if ledger is not None and token is not None:
        reason = done.outcome.value + (f": {done.reason}" if done.reason else "")
        ledger.finish(key, idem, token, RequestStatus.FAILED, reason=reason)
    counters("RevalidationFailed" if done.outcome is DetachedOutcome.FAILED else "RevalidationBusy")
    raise RetryLaterError(f"{path}: {done.outcome.value} ({done.reason})")


_APP: dict[str, object] = {}


def load_app(spec: str | None = None) -> object:
    """The app named by ``spec`` or ``$LAMBDA_ISR_APP`` (imported once)."""
    name = spec or os.environ.get(ENV_APP) or ""
    if not name:
        raise ConfigError(f"the revalidation consumer needs {ENV_APP}=module.attr (the site)")
    if name not in _APP:
        from lambda_isr.runtime.loader import load_handler  # noqa: PLC0415

        _APP[name] = load_handler(name, os.environ.get("LAMBDA_TASK_ROOT"))
    return _APP[name]


def handler(event: dict[str, Any], context: Any = None, *, app: object = None) -> dict[str, Any]:
    """The SQS event source's handler: partial batch failures through Powertools."""
    from aws_lambda_powertools.utilities.batch import (  # noqa: PLC0415
        BatchProcessor,
        EventType,
        process_partial_response,
    )

    site = app if app is not None else load_app()
    get_remaining = getattr(context, "get_remaining_time_in_millis", None)

    def one(record: Any) -> Handled:
        remaining = get_remaining() / 1000.0 if callable(get_remaining) else None
        return consume(site, record.body, message_id=record.message_id, remaining=remaining)

    # A batch whose every message failed is answered with the list too (not raised): Lambda
    # retries exactly those, and the log does not call it a crash.
    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
    return dict(
        process_partial_response(
            event=event, record_handler=one, processor=processor, context=context
        )
    )
