"""Powertools logging, metrics and (lazily) tracing for faces.

Powertools' own decorators end when the handler *returns*; a streamed response outlives that,
so the face owns the lifetime: :meth:`Observability.begin` binds the Lambda request id and the
Function URL request id (as correlation id) to every log line of the request, the streamed
part included; :meth:`Observability.finish` logs one summary line, emits the metrics and clears
the keys, after the response ended and the page was committed.

The Tracer imports ``aws_xray_sdk`` (~20 ms in Lambda; far more outside it, where it creates
X-Ray clients at import), so it is created only when tracing is enabled:
an explicit ``tracer``/``tracing=True``, or ``POWERTOOLS_TRACE_DISABLED`` set to a false value.
Settings (service, namespace, tracing) resolve as every setting does (:mod:`lambda_isr.settings`)
and can be injected whole (``settings=ObservabilitySettings(...)``).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.shared import constants
from aws_lambda_powertools.shared.functions import powertools_dev_is_set

from lambda_isr.clock import Clock
from lambda_isr.isr.states import CacheState
from lambda_isr.isr.trace import RequestTrace
from lambda_isr.settings import (
    ObservabilitySettings,
    observability_settings,
)

_BOUND_KEYS = (
    "function_request_id",
    "function_name",
    "function_arn",
    "function_memory_size",
    "cold_start",
)

STATE_METRICS = {
    CacheState.HIT: "CacheHit",
    CacheState.MISS: "CacheMiss",
    CacheState.STALE: "CacheStale",
    CacheState.WAIT_HIT: "CacheWaitHit",
    CacheState.STALE_ERROR: "CacheStaleError",
    CacheState.BYPASS: "CacheBypass",
}


# What Powertools' formatter does per line, done once: it serialises with ``json.dumps`` and
# keyword arguments (a new JSONEncoder per line) and tries ``json.loads`` on every message (an
# exception per plain-text message). The same encoder settings, built once, and a loads that
# declines at once what cannot be JSON give byte-identical lines (tested).
_JSON_START = frozenset(' \t\n\r{["-0123456789tfnNI')


def _not_json(message: dict[Any, Any] | str | bool | int | float) -> str:
    """``json.loads``, declining at once (``ValueError``) a str that cannot start a JSON
    document (what ``json.loads`` would reject too, more slowly)."""
    if isinstance(message, str) and message[:1] not in _JSON_START:
        raise ValueError("not JSON")
    return json.loads(message)  # type: ignore[arg-type,no-any-return]


def powertools_logger(service: str) -> Logger:
    """A Powertools Logger writing the same lines as ``Logger(service=service)``, cheaper."""
    indent = constants.PRETTY_INDENT if powertools_dev_is_set() else constants.COMPACT_INDENT
    encoder = json.JSONEncoder(
        default=str, separators=(",", ":"), indent=indent, ensure_ascii=False
    )
    return Logger(service=service, json_serializer=encoder.encode, json_deserializer=_not_json)


def tracing_enabled(option: bool | None) -> bool:
    return observability_settings(tracing=option).tracing


class Observability:
    def __init__(
        self,
        *,
        logger: Logger | None = None,
        metrics: Metrics | None = None,
        tracer: Any = None,
        tracing: bool | None = None,
        service: str | None = None,
        settings: ObservabilitySettings | None = None,
    ) -> None:
        resolved = settings or observability_settings(service=service, tracing=tracing)
        service = resolved.service
        self.logger = logger or powertools_logger(service)
        self.metrics = metrics or Metrics(service=service, namespace=resolved.namespace)
        self._tracer = tracer
        self._tracing = tracer is not None or resolved.tracing
        self._service = service
        self._cold = True

    @property
    def tracer(self) -> Any:
        """The Powertools Tracer, created (and imported) on first use; ``None`` when off."""
        if self._tracing and self._tracer is None:
            try:
                from aws_lambda_powertools import Tracer  # noqa: PLC0415 (lazy: aws_xray_sdk)

                self._tracer = Tracer(service=self._service)
            except Exception:  # e.g. aws-xray-sdk missing: tracing off, pages still served
                self._tracing = False
                self.logger.warning(
                    "tracing is enabled but the Powertools Tracer cannot start "
                    "(is aws-xray-sdk installed?): tracing is off for this process",
                    exc_info=True,
                )
        return self._tracer if self._tracing else None

    def _span_factory(self) -> Callable[[str], AbstractContextManager[Any]]:
        tracer = self.tracer
        if tracer is None:
            return lambda _name: contextlib.nullcontext()
        return lambda name: tracer.provider.in_subsegment(name=f"## {name}")

    def begin(self, context: object, function_url_request_id: str, clock: Clock) -> RequestTrace:
        """Bind per-request log keys; returns the request's trace."""
        keys: dict[str, Any] = {"cold_start": self._cold}
        self._cold = False
        for key, attr in (
            ("function_request_id", "aws_request_id"),
            ("function_name", "function_name"),
            ("function_arn", "invoked_function_arn"),
            ("function_memory_size", "memory_limit_in_mb"),
        ):
            value = getattr(context, attr, None)
            if isinstance(value, str | int) and not isinstance(value, bool):
                keys[key] = value
        self.logger.append_keys(**keys)
        self.logger.set_correlation_id(function_url_request_id or None)
        return RequestTrace(clock, self.logger, self._span_factory())

    def finish(self, trace: RequestTrace) -> None:
        """Summary line, metrics flush, keys cleared. Never raises."""
        try:
            self.logger.info("lambda-isr request", extra=trace.summary())
            self._emit_metrics(trace)
        except Exception:
            self.logger.exception("observability flush failed")
        finally:
            self.logger.remove_keys(list(_BOUND_KEYS))
            self.logger.set_correlation_id(None)

    def _emit_metrics(self, trace: RequestTrace) -> None:
        added = False
        if trace.state is not None:
            self.metrics.add_metric(name=STATE_METRICS[trace.state], unit=MetricUnit.Count, value=1)
            added = True
        render_ms = trace.timings_ms.get("render_ms")
        if render_ms is not None:
            self.metrics.add_metric(
                name="RenderTime", unit=MetricUnit.Milliseconds, value=render_ms
            )
        for name, count in sorted(trace.counters.items()):
            if count:
                self.metrics.add_metric(name=name, unit=MetricUnit.Count, value=count)
                added = True
        if added:
            self.metrics.flush_metrics()
