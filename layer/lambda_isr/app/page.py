"""What a FaceApp face returns, and how it becomes a streamed HTML document.

A face of a :class:`~lambda_isr.app.FaceApp` returns **the content of ``<body>``**, as one of:

- :class:`Page` (``body``, plus optional ``head``, ``status``, ``headers``, ``cookies``,
  ``hydration``);
- a ``str``, ``bytes`` or (async) iterable of them: ``Page(body=...)``;
- a :class:`~lambda_isr.http.response.FaceResult`: a **raw** response, not wrapped in the
  document (a redirect, a feed, JSON).

``load`` may return :class:`Loaded` (``data`` for the face plus a ``head``) or any value (the
face's ``data``). Heads merge app default < load < face (:mod:`lambda_isr.app.head`).

The app writes the document shell ``<!doctype html><html ...><head>...</head><body>`` as the
**first chunk**, as soon as the face has returned (after ``load``) and before the slow body
streams, then the body, then the hydration scripts and ``</body></html>``. Anything that fails
before the shell (``load``, the face call, a bad return value, data JSON cannot hold) is an
early failure: a stale copy or a 500, never a broken page.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from lambda_isr.app.head import PageHead, html_open, render_head, render_title
from lambda_isr.app.hydration import Hydration, render_hydration
from lambda_isr.http.request import FaceRequest
from lambda_isr.http.response import Body, FaceResult
from lambda_isr.isr.render import face_name

HTML_TYPE = "text/html; charset=utf-8"
_TEXT = (str, bytes, bytearray, memoryview)

LoadFn = Callable[[FaceRequest], Any]
PageFn = Callable[..., Any]


@dataclass(frozen=True, slots=True)
class Page:
    """A page's body content plus what the document around it needs."""

    body: Body = None
    head: PageHead | None = None
    status: int = 200
    headers: Mapping[str, str | Sequence[str]] = field(default_factory=dict)
    cookies: Sequence[str] = ()
    hydration: Hydration | None = None


@dataclass(frozen=True, slots=True)
class Loaded:
    """What ``load`` may return: the face's ``data`` plus a head for the page."""

    data: Any = None
    head: PageHead | None = None


@dataclass(frozen=True, slots=True)
class Document:
    """The app-wide parts of every document."""

    head: PageHead = field(default_factory=PageHead)
    title_template: str | None = None


def _wrong(face: object, value: object, what: str = "returned") -> TypeError:
    shown = "None" if value is None else f"a {type(value).__name__} ({value!r:.60})"
    return TypeError(
        f"face {face_name(face)} {what} {shown}: a FaceApp face returns Page(...), str, bytes,"
        " an (async) iterable of them, or FaceResult(...) for a raw response"
    )


def _as_page(face: object, result: object) -> Page | FaceResult:
    if isinstance(result, Page | FaceResult):
        if isinstance(result, Page):
            _check_body(face, result.body)
            if result.head is not None and not isinstance(result.head, PageHead):
                raise _wrong(face, result.head, "returned a head that is")
            if result.hydration is not None and not isinstance(result.hydration, Hydration):
                raise _wrong(face, result.hydration, "returned hydration that is")
        return result
    if result is None or isinstance(result, Mapping):
        raise _wrong(face, result)
    _check_body(face, result)
    return Page(body=result)  # type: ignore[arg-type]


def _check_body(face: object, body: object) -> None:
    if body is None or isinstance(body, _TEXT):
        return
    if isinstance(body, Mapping) or not (hasattr(body, "__iter__") or hasattr(body, "__aiter__")):
        raise _wrong(face, body, "returned a body that is")


def compose(
    face: object, document: Document, loaded_head: PageHead | None, result: object
) -> FaceResult:
    """The face's result as the response the render pipeline streams."""
    page = _as_page(face, result)
    if isinstance(page, FaceResult):
        return page
    head = document.head | loaded_head | page.head
    own = page.head.title if page.head is not None and page.head.title is not None else None
    if own is None and loaded_head is not None:
        own = loaded_head.title
    title = render_title(own, document.title_template) if own is not None else head.title
    shell = f"<!doctype html>{html_open(head)}<head>{render_head(head, title=title)}</head><body>"
    tail = (render_hydration(page.hydration) if page.hydration is not None else "") + (
        "</body></html>"
    )
    headers = {k.lower(): v for k, v in page.headers.items()}
    headers.setdefault("content-type", HTML_TYPE)
    body = page.body
    stream: Iterator[Any] | AsyncIterator[Any]
    if hasattr(body, "__aiter__"):
        stream = _async_document(shell, body, tail)
    else:
        stream = _document(shell, body, tail)
    return FaceResult(page.status, headers, list(page.cookies), body=stream)


def _document(shell: str, body: Any, tail: str) -> Iterator[Any]:
    yield shell
    if isinstance(body, _TEXT):
        yield body
    elif body is not None:
        yield from body
    yield tail


async def _async_document(shell: str, body: Any, tail: str) -> AsyncIterator[Any]:
    yield shell
    async for chunk in body:
        yield chunk
    yield tail


async def _later(
    face: object, document: Document, head: PageHead | None, result: Any
) -> FaceResult:
    return compose(face, document, head, await result)


def page_render(
    face: PageFn, load: LoadFn | None, document: Document
) -> Callable[[FaceRequest], Any]:
    """``request -> FaceResult`` (a coroutine when ``load`` or the face is async): runs
    ``load``, calls the face, checks what it returned and wraps it in the document."""
    is_async = inspect.iscoroutinefunction(face) or inspect.iscoroutinefunction(load)

    def split(data: Any) -> tuple[Any, PageHead | None]:
        if isinstance(data, Loaded):
            if data.head is not None and not isinstance(data.head, PageHead):
                raise _wrong(load, data.head, "loaded a head that is")
            return data.data, data.head
        return data, None

    if is_async:

        async def render_async(request: FaceRequest) -> FaceResult:
            head = None
            if load is None:
                result = face(request)
            else:
                data = load(request)
                if inspect.isawaitable(data):
                    data = await data
                data, head = split(data)
                result = face(request, data)
            if inspect.isawaitable(result):
                result = await result
            return compose(face, document, head, result)

        return functools.wraps(face)(render_async)

    def render(request: FaceRequest) -> Any:
        head = None
        if load is None:
            result = face(request)
        else:
            data, head = split(load(request))
            result = face(request, data)
        if inspect.isawaitable(result):  # a sync def returning an awaitable
            return _later(face, document, head, result)
        return compose(face, document, head, result)

    return functools.wraps(face)(render)
