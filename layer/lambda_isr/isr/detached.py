"""Regenerating a page with no client: a build, a queue message, work after the response ended.

:func:`regenerate` takes the lease like any request, then runs the same render pipeline as a
streamed or buffered miss (:func:`~lambda_isr.isr.pipeline.run_render`) onto a
:class:`~lambda_isr.isr.sink.DetachedSink`: the page is rendered, captured and committed, and
nothing is sent anywhere. :func:`detached_request` builds the request such a render sees from
the route's path, its params, the site's host and the tenant: nothing else, so what it stores
is what a visitor's cached render would have stored.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum

from lambda_isr.errors import StoreError
from lambda_isr.http.request import FaceRequest, RequestHeaders
from lambda_isr.http.response import default_footer
from lambda_isr.isr.driver import Face, IsrDriver
from lambda_isr.isr.events import RenderOutcome
from lambda_isr.isr.keys import build_key, cache_view
from lambda_isr.isr.pipeline import Publisher, run_render
from lambda_isr.isr.render import start_render
from lambda_isr.isr.reply import Reply
from lambda_isr.isr.sink import DetachedSink
from lambda_isr.isr.states import CacheState
from lambda_isr.isr.trace import LogLike, RequestTrace
from lambda_isr.store.contract import Lease

DETACHED_REQUEST_ID = "lambda-isr-regenerate"


class DetachedOutcome(Enum):
    COMMITTED = "committed"
    NOT_STORED = "not-stored"
    FAILED = "failed"
    """The render failed (early or late): nothing stored, the lease released."""
    BUSY = "busy"
    """Another request holds the lease: it is regenerating the page already."""
    UNCACHEABLE = "uncacheable"
    """The request has no cache key (credentials, a method other than GET)."""


@dataclass(frozen=True, slots=True)
class Regenerated:
    outcome: DetachedOutcome
    cache_key: str | None
    reason: str | None = None


def detached_request(
    path: str,
    *,
    host: str = "",
    params: Mapping[str, str] | None = None,
    tenant_header: tuple[str, str] | None = None,
    query: Mapping[str, tuple[str, ...]] | None = None,
) -> FaceRequest:
    """The GET a render with no client sees (``tenant_header``: the header the tenant rule
    reads, e.g. ``("x-tenant-id", "acme")``)."""
    headers = {"host": host} if host else {}
    if tenant_header is not None:
        headers[tenant_header[0].lower()] = tenant_header[1]
    raw_query = "&".join(f"{k}={v}" for k, values in (query or {}).items() for v in values)
    return FaceRequest(
        method="GET",
        path=path,
        raw_query=raw_query,
        query=dict(query or {}),
        headers=RequestHeaders(headers),
        request_id=DETACHED_REQUEST_ID,
        params=dict(params or {}),
    )


def regenerate(
    driver: IsrDriver, face: Face, request: FaceRequest, *, log: LogLike | None = None
) -> Regenerated:
    """Render ``request`` with ``face`` under the lease and commit it, with no client."""
    decision = build_key(request, driver.config.keys)
    key = decision.key
    if key is None:
        return Regenerated(DetachedOutcome.UNCACHEABLE, None, decision.bypass_reason)
    trace = RequestTrace(driver.clock, log)
    store = driver.store()
    try:
        got = store.meta.try_acquire_lease(key, driver.config.lease_seconds)
    except StoreError as exc:
        return Regenerated(DetachedOutcome.FAILED, key, f"store: {exc}")
    if not isinstance(got, Lease):
        return Regenerated(DetachedOutcome.BUSY, key)
    reply = Reply(
        DetachedSink(),
        request_id=DETACHED_REQUEST_ID,
        head_only=False,
        trace=trace,
        footer=default_footer,
    )
    view = cache_view(request, driver.config.keys)
    result = run_render(
        lambda: start_render(face, view, eager=False),
        reply,
        state=CacheState.MISS,
        status_entry="lambda-isr; fwd=miss",
        config=driver.config,
        publisher=Publisher(
            store, key, got, driver.clock, driver.bodies, driver.keeper_poll, driver.passes
        ),
    )
    outcome = {
        RenderOutcome.COMMITTED: DetachedOutcome.COMMITTED,
        RenderOutcome.NOT_STORED: DetachedOutcome.NOT_STORED,
    }.get(result.outcome, DetachedOutcome.FAILED)
    return Regenerated(outcome, key, result.reason)
