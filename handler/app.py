"""The lambda-isr demo site: the function `template.yaml` deploys and `make dev` serves.

- ``/`` and ``/posts/<slug>``: blocking ISR pages (``revalidate=60``) rendered with Jinja2's
  async streaming templates over a deliberately slow data source; the head of each page
  reaches the browser before the slow part has loaded.
- ``?fail=late`` on any ISR page: the render fails after bytes were sent (error footer and
  Lambda error trailers; nothing is cached).
- ``/live``: a plain streaming page without ISR (never cached).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import data
from jinja2 import Environment, FileSystemLoader, select_autoescape

from lambda_isr import FaceRequest, FaceResult, Head, isr_face, streaming
from lambda_isr.runtime.writer import ResponseWriter

TEMPLATES = Environment(
    loader=FileSystemLoader(Path(__file__).with_name("templates")),
    autoescape=select_autoescape(),
    enable_async=True,
)
TEMPLATES.globals.update(
    list_posts=data.list_posts,
    load_post=data.load_post,
    rendered_at=data.rendered_at,
    explode=data.explode,
)
HTML = {"content-type": "text/html; charset=utf-8"}


@isr_face(revalidate=60, vary_query=["fail"], vary_cookies=[])
async def site(request: FaceRequest) -> FaceResult:
    """Every ISR page of the site, routed by path."""
    fail = request.query.get("fail", [""])[-1] == "late"
    path = request.path.rstrip("/") or "/"
    if path == "/":
        template, context, status = "index.html", {}, 200
    elif path.startswith("/posts/") and path.count("/") == 2:
        slug = path.removeprefix("/posts/")
        exists = slug in data.POSTS
        template, context, status = "post.html", {"slug": slug}, 200 if exists else 404
    else:
        template, context, status = "post.html", {"slug": path}, 404
    page = TEMPLATES.get_template(template)
    return FaceResult(status, HTML, body=page.generate_async(fail=fail, **context))


@streaming
async def live(event: Any, context: Any) -> AsyncIterator[object]:
    """A streaming page with no cache at all: one tick every 200 ms."""
    yield Head(200, {**HTML, "cache-control": "no-store"})
    page = TEMPLATES.get_template("live.html")

    async def ticks() -> AsyncIterator[int]:
        for tick in range(1, 6):
            await asyncio.sleep(0.2)
            yield tick

    async for chunk in page.generate_async(ticks=ticks):
        yield chunk


def _route(event: object) -> Any:
    path = event.get("rawPath", "") if isinstance(event, dict) else ""
    return live if path == "/live" else site


def handler(event: Any, context: Any) -> dict[str, Any]:
    """Buffered entry point (stock runtime, ``sam local invoke``)."""
    result: dict[str, Any] = _route(event)(event, context)
    return result


def _stream(event: Any, context: Any, writer: ResponseWriter) -> None:
    """Streaming entry point, used by the layer's runtime loop."""
    _route(event).__lambda_isr_stream__(event, context, writer)


handler.__lambda_isr_stream__ = _stream  # type: ignore[attr-defined]
