"""The lambda-isr demo site: the function `template.yaml` deploys and `make dev` serves.

One :class:`~lambda_isr.FaceApp` (``handler`` is the app: it streams under the layer's runtime
and answers buffered under the stock one):

- ``/``: blocking ISR (``revalidate=60``); the post list comes from a deliberately slow data
  source and streams after the document shell.
- ``/posts/{slug}``: ISR; ``load`` fetches the post (its title and description become the
  head), then the "more posts" list streams from the slow source.
- ``/docs/{path*}``: a catch-all docs section (``/docs`` itself included).
- ``/live``: SSR, streamed and never cached: one tick every 200 ms.
- anything else: the custom not-found page, one cached copy shared by every unknown URL.
- ``?fail=late`` on any ISR page: the render fails after bytes were sent (error footer and
  Lambda error trailers; nothing is cached).

Client assets: ``frontend/`` is built by Vite into ``dist/`` (``make frontend``). The manifest,
``dist/.vite/manifest.json``, ships with this code; every page gets the stylesheets, module
preloads and module script of its entry (``src/main.js``, or ``src/post.js`` for posts, whose
button works only once the module has read the page's hydration data).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import data
from jinja2 import Environment, FileSystemLoader, select_autoescape

from lambda_isr import FaceApp, FaceRequest, Hydration, Loaded, Meta, Page, PageHead

HERE = Path(__file__).resolve().parent
MANIFEST = HERE / "dist" / ".vite" / "manifest.json"
"""Vite's manifest (built by ``make frontend``; a missing one fails the import, naming the fix)."""

TEMPLATES = Environment(
    loader=FileSystemLoader(Path(__file__).with_name("templates")),
    autoescape=select_autoescape(),
    enable_async=True,
)
TEMPLATES.globals.update(
    list_posts=data.list_posts,
    rendered_at=data.rendered_at,
    explode=data.explode,
)


def _fail(request: FaceRequest) -> bool:
    return request.first("fail") == "late"


def not_found(request: FaceRequest) -> Page:
    """Every unknown URL: one cached page per host (it never sees the requested path)."""
    body = TEMPLATES.get_template("not_found.html").generate_async()
    return Page(body=body, status=404, head=PageHead(title="Not found"))


app = FaceApp(
    title_template="%s · lambda-isr demo",
    head=PageHead(
        title="lambda-isr demo",
        lang="en",
        meta=(Meta("width=device-width, initial-scale=1", name="viewport"),),
    ),
    not_found=not_found,
    manifest=MANIFEST,
    entry="src/main.js",
)
handler = app
"""The name ``template.yaml`` and ``make dev`` use (``app.handler``)."""

ISR: dict[str, Any] = {"revalidate": 60, "vary_query": ["fail"], "vary_cookies": []}


@app.face("/", **ISR)
def home(request: FaceRequest) -> Page:
    body = TEMPLATES.get_template("index.html").generate_async(fail=_fail(request))
    return Page(body=body, head=PageHead(description="Streaming blocking ISR on Lambda."))


async def load_post(request: FaceRequest) -> Loaded:
    """Runs before the first byte: keep it short (everything here delays the page's head)."""
    post = await data.load_post(request.params["slug"])
    if post is None:
        return Loaded(None, head=PageHead(title="No such post"))
    head = PageHead(title=post.title, description=post.paragraphs[0])
    return Loaded(post, head=head)


@app.face("/posts/{slug}", load=load_post, entry="src/post.js", **ISR)
def post(request: FaceRequest, found: data.Post | None) -> Page:
    slug = request.params["slug"]
    body = TEMPLATES.get_template("post.html").generate_async(
        post=found, slug=slug, fail=_fail(request)
    )
    generated_at = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
    data_for_client = {"slug": slug, "title": found.title if found else None}
    hydration = Hydration({**data_for_client, "generatedAt": generated_at})
    return Page(body=body, status=200 if found else 404, hydration=hydration)


@app.face("/docs/{path*}", **ISR)
def docs(request: FaceRequest) -> Page:
    path = request.params["path"]
    doc = data.DOCS.get(path)
    body = TEMPLATES.get_template("docs.html").generate_async(
        doc=doc, path=path, docs=list(data.DOCS.values())
    )
    title = doc.title if doc else "No such page"
    return Page(body=body, status=200 if doc else 404, head=PageHead(title=title))


@app.face("/live", mode="ssr")
def live(request: FaceRequest) -> Page:
    """Rendered for every request and never cached."""

    async def ticks() -> AsyncIterator[int]:
        for tick in range(1, 6):
            await asyncio.sleep(0.2)
            yield tick

    body = TEMPLATES.get_template("live.html").generate_async(ticks=ticks)
    return Page(body=body, head=PageHead(title="Live, never cached"))
