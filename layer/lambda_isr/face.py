"""``@isr_face``: a Lambda handler that answers Function URL requests with blocking ISR.

The decorated object speaks both contracts of the layer, with one code path and a different
sink (:mod:`lambda_isr.isr.sink`):

- ``handler.__lambda_isr_stream__(event, context, writer)``: the layer's runtime passes a live
  writer, wrapped in a :class:`StreamingSink`; chunks leave as the face yields them, the
  response ends before the page is stored.
- ``handler(event, context) -> dict``: the stock runtime and ``sam local invoke``; a
  :class:`BufferedSink` pulls the whole render before the head, so any render failure is an
  early one (stale copy or 500), and its answer is all or nothing.

Options and the settings they depend on are validated once, here, at decoration (at import:
under the runtime a mistake is an init error). The store is created lazily at the first
request. The request path: :class:`~lambda_isr.isr.driver.IsrDriver` runs the decision core
(:mod:`lambda_isr.isr.machine`), serving copies (:mod:`~lambda_isr.isr.serve`) and rendering
through the pipeline (:mod:`~lambda_isr.isr.pipeline`); every answer and every failure goes
through one :class:`~lambda_isr.isr.reply.Reply`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from typing import Any, TypedDict, Unpack

from lambda_isr.errors import ConfigError
from lambda_isr.handler import HANDLER_OPTIONS, FaceHandler, HandlerOptions, StoreSource
from lambda_isr.http.request import FaceRequest
from lambda_isr.isr.bodycache import BodyCache
from lambda_isr.isr.config import (
    DEFAULT_CACHEABLE_STATUSES,
    ContentionPolicy,
    IsrConfig,
    KeyConfig,
    KeyFunction,
    Regeneration,
    TenantRule,
    TrailingSlash,
)
from lambda_isr.isr.driver import IsrDriver
from lambda_isr.isr.reply import Reply
from lambda_isr.store.index import check_tags

FaceFn = Callable[[FaceRequest], Any]

__all__ = [
    "ContentionPolicy",
    "FaceHandler",
    "IsrFace",
    "StoreSource",
    "TrailingSlash",
    "isr_config",
    "isr_face",
]


class PageOptions(TypedDict, total=False):
    """The options of one cached page (``@isr_face``, ``@app.face``); see :func:`isr_config`
    for their defaults and :class:`IsrConfig` / :class:`KeyConfig` for what they mean."""

    vary_query: Iterable[str]
    vary_headers: Iterable[str]
    vary_cookies: Iterable[str] | None
    vary_host: bool
    tenant: TenantRule | None
    key: KeyFunction | None
    trailing_slash: TrailingSlash
    lease_seconds: float
    wait_timeout: float
    poll_interval: float
    poll_ratio: float
    deadline_margin: float
    contention: ContentionPolicy
    regeneration: Regeneration
    cacheable_statuses: Iterable[int]
    max_body_bytes: int
    stale_if_error: int
    cdn_cache_control: bool
    pass_seconds: float | None
    tags: Iterable[str]


class IsrFaceOptions(HandlerOptions, PageOptions, total=False):
    """Everything ``@isr_face`` takes besides ``revalidate`` and ``body_cache``."""


class IsrFace(FaceHandler):
    """The decorated handler (see module docstring)."""

    __name__: str
    __wrapped__: FaceFn

    def __init__(
        self,
        fn: FaceFn,
        *,
        config: IsrConfig,
        bodies: BodyCache,
        **options: Unpack[HandlerOptions],
    ) -> None:
        if not callable(fn):
            raise ConfigError("@isr_face decorates a function taking a FaceRequest")
        functools.update_wrapper(self, fn)
        super().__init__(**options)
        self.fn = fn
        self.config = config
        self.driver = IsrDriver(config, self.store, clock=self.clock, bodies=bodies)

    def dispatch(self, request: FaceRequest, reply: Reply, remaining: float | None) -> None:
        self.driver.serve(request, reply, self.fn, remaining=remaining)


def isr_config(
    *,
    revalidate: int,
    vary_query: Iterable[str] = (),
    vary_headers: Iterable[str] = (),
    vary_cookies: Iterable[str] | None = None,
    vary_host: bool = True,
    tenant: TenantRule | None = None,
    key: KeyFunction | None = None,
    trailing_slash: TrailingSlash = TrailingSlash.STRIP,
    lease_seconds: float = 4.0,
    wait_timeout: float = 10.0,
    poll_interval: float = 0.05,
    poll_ratio: float = 0.1,
    deadline_margin: float = 1.0,
    contention: ContentionPolicy = ContentionPolicy.SERVE_STALE,
    regeneration: Regeneration = Regeneration.BLOCKING,
    cacheable_statuses: Iterable[int] = DEFAULT_CACHEABLE_STATUSES,
    max_body_bytes: int = 5 * 1024 * 1024,
    stale_if_error: int = 86_400,
    cdn_cache_control: bool = True,
    pass_seconds: float | None = None,
    route: str | None = None,
    tags: Iterable[str] = (),
    static: bool = False,
) -> IsrConfig:
    """The validated :class:`IsrConfig` of one page's options (shared by ``@isr_face`` and
    ``FaceApp.face``)."""
    for name, names in (("vary_query", vary_query), ("vary_headers", vary_headers)):
        if isinstance(names, str):
            raise ConfigError(f"{name} must be a list of names, e.g. {name}=[{names!r}]")
    if isinstance(vary_cookies, str):
        raise ConfigError(f"vary_cookies must be a list of names, e.g. [{vary_cookies!r}]")
    return IsrConfig(
        revalidate=revalidate,
        lease_seconds=lease_seconds,
        wait_timeout=wait_timeout,
        poll_interval=poll_interval,
        poll_ratio=poll_ratio,
        deadline_margin=deadline_margin,
        contention=contention,
        regeneration=regeneration,
        cacheable_statuses=frozenset(cacheable_statuses),
        max_body_bytes=max_body_bytes,
        stale_if_error=stale_if_error,
        cdn_cache_control=cdn_cache_control,
        pass_seconds=pass_seconds,
        route=route,
        tags=check_tags(tags, where=f"face {route or '(isr_face)'}"),
        static=static,
        keys=KeyConfig(
            vary_query=tuple(vary_query),
            vary_headers=tuple(vary_headers),
            vary_cookies=None if vary_cookies is None else tuple(vary_cookies),
            vary_host=vary_host,
            tenant=tenant,
            key=key,
            trailing_slash=trailing_slash,
        ),
    )


def isr_face(
    fn: FaceFn | None = None,
    /,
    *,
    revalidate: int,
    body_cache: BodyCache | None = None,
    **options: Unpack[IsrFaceOptions],
) -> Callable[[FaceFn], IsrFace]:
    """Decorate a face: ``@isr_face(revalidate=60)``. Page options: :func:`isr_config`;
    handler options (store, error_footer, logger, metrics, tracer, tracing, clock):
    :class:`~lambda_isr.handler.FaceHandler`. All are validated now."""
    if fn is not None:
        raise ConfigError("use @isr_face(revalidate=<seconds>), with parentheses")
    unknown = sorted(set(options) - HANDLER_OPTIONS - PAGE_OPTIONS)
    if unknown:
        raise ConfigError(f"@isr_face got unknown option(s): {', '.join(unknown)}")
    handler: dict[str, Any] = {k: v for k, v in options.items() if k in HANDLER_OPTIONS}
    page: dict[str, Any] = {k: v for k, v in options.items() if k in PAGE_OPTIONS}
    config = isr_config(revalidate=revalidate, **page)
    FaceHandler(**handler)  # validate the handler options now, at decoration

    def decorate(face: FaceFn) -> IsrFace:
        return IsrFace(
            face,
            config=config,
            bodies=body_cache if body_cache is not None else BodyCache(),
            **handler,
        )

    return decorate


PAGE_OPTIONS = frozenset(PageOptions.__annotations__)
