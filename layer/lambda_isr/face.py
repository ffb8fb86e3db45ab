"""``@isr_face``: a Lambda handler that answers Function URL requests with blocking ISR.

The decorated object speaks both contracts of the layer:

- ``handler.__lambda_isr_stream__(event, context, writer)``: the layer's runtime passes a live
  :class:`~lambda_isr.runtime.writer.ResponseWriter`; chunks leave as the face yields them, the
  response ends before the page is stored.
- ``handler(event, context) -> dict``: the stock runtime and ``sam local invoke``; the same
  engine writes into a :class:`~lambda_isr.runtime.writer.BufferedWriter`. Buffered, the whole
  render is pulled before the head, so any render failure is an early one (stale copy or 500).

Options are validated once, here; the store is created lazily at the first request.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterable
from typing import Any

from aws_lambda_powertools import Logger, Metrics

from lambda_isr.clock import SYSTEM_CLOCK, Clock
from lambda_isr.errors import ConfigError, InvalidEventError, StoreUnavailableError
from lambda_isr.http.request import FaceRequest, event_request_id, parse_event, response_request_id
from lambda_isr.http.response import default_footer, error_page
from lambda_isr.isr.bodycache import BodyCache
from lambda_isr.isr.config import (
    DEFAULT_CACHEABLE_STATUSES,
    ContentionPolicy,
    IsrConfig,
    KeyConfig,
    KeyFunction,
    TenantRule,
    TrailingSlash,
)
from lambda_isr.isr.engine import IsrEngine
from lambda_isr.isr.policy import NO_STORE, cache_status
from lambda_isr.isr.render import start_render
from lambda_isr.isr.states import CacheState
from lambda_isr.isr.trace import RequestTrace
from lambda_isr.observability import Observability
from lambda_isr.runtime.writer import BufferedWriter, ResponseWriter
from lambda_isr.store.contract import Store

FaceFn = Callable[[FaceRequest], Any]
StoreSource = Store | Callable[[], Store] | None

__all__ = ["ContentionPolicy", "IsrFace", "TrailingSlash", "isr_face"]


def _footer(option: str | Callable[[str], str] | None) -> Callable[[str], str]:
    if option is None:
        return default_footer
    if isinstance(option, str):
        return lambda _rid: option
    if callable(option):
        return option
    raise ConfigError("error_footer must be a string or a callable(request_id) -> str")


class IsrFace:
    """The decorated handler (see module docstring)."""

    __name__: str
    __wrapped__: FaceFn

    def __init__(
        self,
        fn: FaceFn,
        *,
        config: IsrConfig,
        store: StoreSource,
        observability: Observability,
        clock: Clock,
        footer: Callable[[str], str],
        bodies: BodyCache,
    ) -> None:
        if not callable(fn):
            raise ConfigError("@isr_face decorates a function taking a FaceRequest")
        functools.update_wrapper(self, fn)
        self.fn = fn
        self.config = config
        self.observability = observability
        self.clock = clock
        self._footer = footer
        self._store_source = store
        self._store: Store | None = store if isinstance(store, Store) else None
        self._store_lock = threading.Lock()
        self.engine = IsrEngine(config, self.store, clock=clock, bodies=bodies, footer=footer)

    def store(self) -> Store:
        """The store, created on first use (never at import or decoration time)."""
        if self._store is not None:
            return self._store
        with self._store_lock:
            if self._store is None:
                try:
                    if callable(self._store_source):
                        self._store = self._store_source()
                    else:
                        from lambda_isr.store.config import store_from_env  # noqa: PLC0415

                        self._store = store_from_env()
                except StoreUnavailableError:
                    raise
                except Exception as exc:
                    raise StoreUnavailableError(f"could not create the store: {exc}") from exc
            return self._store

    def __call__(self, event: object, context: object = None) -> dict[str, Any]:
        writer = BufferedWriter()
        self._handle(event, context, writer, buffered=True)
        if writer.error is not None:
            # A stored body broke after its head: a buffered answer is all-or-nothing, so the
            # client gets a clean error page, never a truncated one.
            writer = BufferedWriter()
            self._page(writer, None, 500, event, context)
        return writer.to_function_url_response()

    def __lambda_isr_stream__(self, event: object, context: object, writer: ResponseWriter) -> None:
        self._handle(event, context, writer, buffered=False)

    def _handle(
        self, event: object, context: object, writer: ResponseWriter, *, buffered: bool
    ) -> None:
        trace = self.observability.begin(context, event_request_id(event), self.clock)
        try:
            try:
                request = parse_event(event, context)
            except InvalidEventError as exc:
                trace.log.warning("malformed event: %s", exc)
                self._page(writer, trace, 400, event, context)
                return
            fn = self.fn
            self.engine.serve(
                request,
                writer,
                lambda req: start_render(fn, req, buffered=buffered),
                trace,
                remaining=lambda: _remaining_seconds(context),
            )
        except Exception as exc:
            trace.log.exception("lambda-isr failed while answering")
            trace.count("InternalError")
            if not writer.started:
                self._page(writer, trace, 500, event, context)
            elif not writer.finished:
                rid = response_request_id(None, event_request_id(event), context)
                try:
                    writer.write(self._footer(rid))
                finally:
                    writer.fail(exc)
        finally:
            self.observability.finish(trace)

    def _page(
        self,
        writer: ResponseWriter,
        trace: RequestTrace | None,
        status: int,
        event: object,
        ctx: object,
    ) -> None:
        inbound = None
        if isinstance(event, dict) and isinstance(event.get("headers"), dict):
            inbound = event["headers"].get("x-request-id")
        rid = response_request_id(inbound, event_request_id(event), ctx)
        detail = "bad-request" if status == 400 else "error"
        headers = {
            "content-type": "text/html; charset=utf-8",
            "cache-control": NO_STORE,
            "x-isr-cache": CacheState.BYPASS.value,
            "cache-status": cache_status(fwd="bypass", detail=detail),
            "x-request-id": rid,
        }
        writer.start(status, headers)
        body = error_page(status, rid)
        writer.write(body)
        writer.end()
        if trace is not None:
            trace.state, trace.status = CacheState.BYPASS, status
            trace.bytes_sent += len(body)


def _remaining_seconds(context: object) -> float | None:
    get = getattr(context, "get_remaining_time_in_millis", None)
    if not callable(get):
        return None
    try:
        return float(get()) / 1000.0
    except (TypeError, ValueError):
        return None


def isr_face(
    fn: FaceFn | None = None,
    /,
    *,
    revalidate: int,
    store: StoreSource = None,
    vary_query: Iterable[str] = (),
    vary_headers: Iterable[str] = (),
    vary_cookies: Iterable[str] | None = None,
    vary_host: bool = True,
    tenant: TenantRule | None = None,
    key: KeyFunction | None = None,
    trailing_slash: TrailingSlash = TrailingSlash.STRIP,
    lease_seconds: float = 15.0,
    wait_timeout: float = 10.0,
    poll_interval: float = 0.05,
    deadline_margin: float = 1.0,
    contention: ContentionPolicy = ContentionPolicy.SERVE_STALE,
    cacheable_statuses: Iterable[int] = DEFAULT_CACHEABLE_STATUSES,
    max_body_bytes: int = 5 * 1024 * 1024,
    stale_if_error: int = 86_400,
    cdn_cache_control: bool = True,
    error_footer: str | Callable[[str], str] | None = None,
    logger: Logger | None = None,
    metrics: Metrics | None = None,
    tracer: Any = None,
    tracing: bool | None = None,
    clock: Clock | None = None,
    body_cache: BodyCache | None = None,
) -> Callable[[FaceFn], IsrFace]:
    """Decorate a face: ``@isr_face(revalidate=60)``. See :class:`IsrConfig` and
    :class:`KeyConfig` for what each option means."""
    if fn is not None:
        raise ConfigError("use @isr_face(revalidate=<seconds>), with parentheses")
    for name, names in (("vary_query", vary_query), ("vary_headers", vary_headers)):
        if isinstance(names, str):
            raise ConfigError(f"{name} must be a list of names, e.g. {name}=[{names!r}]")
    if isinstance(vary_cookies, str):
        raise ConfigError(f"vary_cookies must be a list of names, e.g. [{vary_cookies!r}]")
    if store is not None and not isinstance(store, Store) and not callable(store):
        raise ConfigError("store must be a Store or a zero-argument callable returning one")
    config = IsrConfig(
        revalidate=revalidate,
        lease_seconds=lease_seconds,
        wait_timeout=wait_timeout,
        poll_interval=poll_interval,
        deadline_margin=deadline_margin,
        contention=contention,
        cacheable_statuses=frozenset(cacheable_statuses),
        max_body_bytes=max_body_bytes,
        stale_if_error=stale_if_error,
        cdn_cache_control=cdn_cache_control,
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
    footer = _footer(error_footer)
    obs = Observability(logger=logger, metrics=metrics, tracer=tracer, tracing=tracing)

    def decorate(face: FaceFn) -> IsrFace:
        return IsrFace(
            face,
            config=config,
            store=store,
            observability=obs,
            clock=clock or SYSTEM_CLOCK,
            footer=footer,
            bodies=body_cache if body_cache is not None else BodyCache(),
        )

    return decorate
