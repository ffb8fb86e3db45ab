"""What every lambda-isr handler shares (an ``IsrFace``, a ``FaceApp``): both Lambda contracts
(buffered ``__call__`` for the stock runtime and ``sam local invoke``, streaming
``__lambda_isr_stream__`` for the layer's runtime), the lazily created store, observability,
parsing the event, and the one error boundary (every answer goes through a
:class:`~lambda_isr.isr.reply.Reply`). Subclasses answer a parsed request in ``dispatch``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypedDict

from aws_lambda_powertools import Logger, Metrics

from lambda_isr.clock import SYSTEM_CLOCK, Clock
from lambda_isr.errors import ConfigError, InvalidEventError, StoreUnavailableError
from lambda_isr.http.request import FaceRequest, event_request_id, parse_event, response_request_id
from lambda_isr.http.response import default_footer
from lambda_isr.isr.policy import cache_status
from lambda_isr.isr.reply import Reply
from lambda_isr.isr.sink import BufferedSink, Sink, StreamingSink
from lambda_isr.isr.states import CacheState
from lambda_isr.isr.trace import RequestTrace
from lambda_isr.namespace import defining_source
from lambda_isr.observability import Observability
from lambda_isr.runtime.writer import ResponseWriter
from lambda_isr.settings import store_settings
from lambda_isr.store.contract import Store

StoreSource = Store | Callable[[], Store] | None


class HandlerOptions(TypedDict, total=False):
    """The options every handler takes (``@isr_face``, ``FaceApp``)."""

    store: StoreSource
    error_footer: str | Callable[[str], str] | None
    logger: Logger | None
    metrics: Metrics | None
    tracer: Any
    tracing: bool | None
    clock: Clock | None


HANDLER_OPTIONS = frozenset(HandlerOptions.__annotations__)

__all__ = ["HANDLER_OPTIONS", "FaceHandler", "HandlerOptions", "StoreSource", "footer_option"]


def footer_option(option: str | Callable[[str], str] | None) -> Callable[[str], str]:
    if option is None:
        return default_footer
    if isinstance(option, str):
        return lambda _rid: option
    if callable(option):
        return option
    raise ConfigError("error_footer must be a string or a callable(request_id) -> str")


class FaceHandler:
    """What every handler of this module shares (an :class:`IsrFace`, a
    :class:`~lambda_isr.app.FaceApp`): the lazily created store, observability, both Lambda
    contracts (buffered ``__call__``, streaming ``__lambda_isr_stream__``), parsing the event
    and the one error boundary. Subclasses answer a parsed request in :meth:`dispatch`."""

    def __init__(
        self,
        *,
        store: StoreSource = None,
        error_footer: str | Callable[[str], str] | None = None,
        logger: Logger | None = None,
        metrics: Metrics | None = None,
        tracer: Any = None,
        tracing: bool | None = None,
        clock: Clock | None = None,
    ) -> None:
        """The options every handler takes (validated now, at import): the store (a
        :class:`Store` or a zero-argument factory; default: from the environment), the error
        footer, Powertools' logger/metrics/tracer, and the clock."""
        if store is not None and not isinstance(store, Store) and not callable(store):
            raise ConfigError("store must be a Store or a zero-argument callable returning one")
        self.observability = Observability(
            logger=logger, metrics=metrics, tracer=tracer, tracing=tracing
        )
        self.clock = clock or SYSTEM_CLOCK
        self._footer = footer_option(error_footer)
        self._store_source = store
        self.source_file: str | None = defining_source()
        """The file that defines this handler: the embedded store's namespace comes from it."""
        if store is None:
            store_settings()  # a configuration mistake fails now, naming the variable
        self._store: Store | None = store if isinstance(store, Store) else None
        self._store_lock = threading.Lock()

    def store(self) -> Store:
        """The store, created on first use (never at import or decoration time). A failure to
        reach it is an outage (``StoreUnavailableError``); a configuration mistake is not."""
        if self._store is not None:
            return self._store
        with self._store_lock:
            if self._store is None:
                try:
                    if callable(self._store_source):
                        self._store = self._store_source()
                    else:
                        from lambda_isr.store.config import store_from_env  # noqa: PLC0415

                        self._store = store_from_env(source=self.source_file)
                except (StoreUnavailableError, ConfigError):
                    raise
                except Exception as exc:
                    raise StoreUnavailableError(f"could not create the store: {exc}") from exc
            return self._store

    def __call__(self, event: object, context: object = None) -> dict[str, Any]:
        sink = BufferedSink()
        self._handle(event, context, sink)
        response = sink.response()
        if response is None:
            # A stored body broke after its head: a buffered answer is all-or-nothing, so the
            # client gets a clean error page, never a truncated one.
            sink = BufferedSink()
            trace = RequestTrace(self.clock, self.observability.logger)
            self._reply(sink, event, context, trace).fail_safe(RuntimeError("answer broke"))
            response = sink.to_function_url_response()
        return response

    def __lambda_isr_stream__(self, event: object, context: object, writer: ResponseWriter) -> None:
        self._handle(event, context, StreamingSink(writer))

    def _reply(
        self,
        sink: Sink,
        event: object,
        context: object,
        trace: RequestTrace,
        function_url_id: str | None = None,
    ) -> Reply:
        inbound = None
        if isinstance(event, dict) and isinstance(event.get("headers"), dict):
            inbound = event["headers"].get("x-request-id")
        if function_url_id is None:
            function_url_id = event_request_id(event)
        rid = response_request_id(inbound, function_url_id, context)
        return Reply(sink, request_id=rid, head_only=False, trace=trace, footer=self._footer)

    def dispatch(self, request: FaceRequest, reply: Reply, remaining: float | None) -> None:
        """Answer one parsed request on ``reply`` (every answer and failure goes through it)."""
        raise NotImplementedError

    def _handle(self, event: object, context: object, sink: Sink) -> None:
        function_url_id = event_request_id(event)
        trace = self.observability.begin(context, function_url_id, self.clock)
        reply = self._reply(sink, event, context, trace, function_url_id)
        try:
            try:
                request = parse_event(event, context)
            except InvalidEventError as exc:
                trace.log.warning("malformed event: %s", exc)
                entry = cache_status(fwd="bypass", detail="bad-request")
                reply.page(400, CacheState.BYPASS, entry)
                return
            reply.request_id = request.response_request_id
            reply.head_only = request.method == "HEAD"
            self.dispatch(request, reply, _remaining_seconds(context))
        except ConfigError:
            trace.log.exception("lambda-isr is misconfigured")
            raise
        except Exception as exc:
            trace.log.exception("lambda-isr failed while answering")
            trace.count("InternalError")
            reply.fail_safe(exc)
        finally:
            self.observability.finish(trace)


def _remaining_seconds(context: object) -> float | None:
    get = getattr(context, "get_remaining_time_in_millis", None)
    if not callable(get):
        return None
    try:
        return float(get()) / 1000.0
    except (TypeError, ValueError):
        return None
