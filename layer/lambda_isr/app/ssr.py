"""``mode="ssr"``: render and stream every request, never cache (no key, no store, no lease).

The same render pipeline as a cached miss, without a publisher: a failure before the first
byte is a 500 page, after it the reply's late-failure path (error footer + error trailers).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lambda_isr.http.request import FaceRequest
from lambda_isr.isr.config import IsrConfig
from lambda_isr.isr.events import RenderOutcome
from lambda_isr.isr.pipeline import run_render
from lambda_isr.isr.policy import cache_status
from lambda_isr.isr.render import start_render
from lambda_isr.isr.reply import Reply
from lambda_isr.isr.states import CacheState


def serve_uncached(
    render: Callable[[FaceRequest], Any], request: FaceRequest, reply: Reply, config: IsrConfig
) -> None:
    """Answer ``request`` with a fresh render, never stored."""
    eager = reply.sink.eager
    result = run_render(
        lambda: start_render(render, request, eager=eager),
        reply,
        state=CacheState.BYPASS,
        status_entry=cache_status(fwd="bypass", detail="ssr"),
        config=config,
    )
    if result.outcome is RenderOutcome.EARLY_FAILURE:
        reply.page(500, CacheState.BYPASS, cache_status(fwd="bypass", detail="error"))
