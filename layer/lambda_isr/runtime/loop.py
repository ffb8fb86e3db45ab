"""The runtime loop: init (logging, handler import, SnapStart), then next -> handler -> response.

``python -m lambda_isr.runtime`` runs :func:`main`; the exec wrapper script starts it in place of
the managed bootstrap. Plain classes (no ``dataclasses``, no ``typing`` at run time) keep the
cold start cheap; the handler loader is imported by :meth:`Runtime.init` only.
"""

from __future__ import annotations

import logging
import os
import sys
import time

from lambda_isr.errors import HandlerLoadError, RuntimeApiError
from lambda_isr.runtime import protocol
from lambda_isr.runtime.client import RuntimeApiClient
from lambda_isr.runtime.context import LambdaContext, function_settings
from lambda_isr.runtime.invoke import Outcome, handle, log_error
from lambda_isr.runtime.logs import setup_logging

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from collections.abc import Callable, MutableMapping
    from typing import Any

    from lambda_isr.runtime.logs import RequestIdFilter
    from lambda_isr.runtime.protocol import Invocation

log = logging.getLogger("lambda_isr.runtime")

EXIT_INIT_ERROR = 1
EXIT_BEFORE_SNAPSHOT_ERROR = 64
EXIT_AFTER_RESTORE_ERROR = 65
EXIT_RUNTIME_API_ERROR = 66
TRACE_ENV = "_X_AMZN_TRACE_ID"
NEXT_ATTEMPTS = 6
"""``GET /next`` attempts in a row before the process gives up (a 500, garbage, a reset)."""
NEXT_BACKOFF = 0.05
"""Seconds before the first retry; doubled on each failure, capped at 1 s (1.55 s in all)."""


class RuntimeConfig:
    """What the loop reads from the environment, validated once."""

    __slots__ = ("api_address", "handler", "snap_start", "task_root")

    def __init__(
        self,
        api_address: str,
        handler: str,
        task_root: str | None = None,
        snap_start: bool = False,
    ) -> None:
        self.api_address = api_address
        self.handler = handler
        self.task_root = task_root
        self.snap_start = snap_start

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, RuntimeConfig):
            return NotImplemented
        return (self.api_address, self.handler, self.task_root, self.snap_start) == (
            other.api_address,
            other.handler,
            other.task_root,
            other.snap_start,
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return (
            f"RuntimeConfig(api_address={self.api_address!r}, handler={self.handler!r}, "
            f"task_root={self.task_root!r}, snap_start={self.snap_start!r})"
        )

    @classmethod
    def from_environ(cls, environ: MutableMapping[str, str]) -> RuntimeConfig:
        missing = [k for k in ("AWS_LAMBDA_RUNTIME_API", "_HANDLER") if not environ.get(k)]
        if missing:
            raise RuntimeApiError(f"missing environment variables: {', '.join(missing)}")
        return cls(
            api_address=environ["AWS_LAMBDA_RUNTIME_API"],
            handler=environ["_HANDLER"],
            task_root=environ.get("LAMBDA_TASK_ROOT"),
            snap_start=environ.get("AWS_LAMBDA_INITIALIZATION_TYPE") == "snap-start",
        )


class Runtime:
    """One runtime process. ``environ``, ``clock`` and ``sleep`` are injectable for tests."""

    def __init__(
        self,
        config: RuntimeConfig,
        environ: MutableMapping[str, str] | None = None,
        clock: Callable[[], float] = time.time,
        handler: Callable[..., Any] | None = None,
        request_filter: RequestIdFilter | None = None,
        *,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.config = config
        self.environ: MutableMapping[str, str] = os.environ if environ is None else environ
        self.clock = clock
        self.sleep = sleep
        self.handler = handler
        self.request_filter = request_filter
        self.client = RuntimeApiClient(config.api_address)
        # Function name, version, memory, log group/stream: fixed for the sandbox's life, read
        # from the environment on the first invocation (after any SnapStart restore).
        self._settings: tuple[str | None, str | None, str | None, str | None, str | None] | None
        self._settings = None

    def init(self) -> int:
        """Import the handler (posting init errors) and run SnapStart hooks; 0 when ready."""
        if self.handler is None:
            from lambda_isr.runtime.loader import load_handler  # noqa: PLC0415 - init only

            try:
                self.handler = load_handler(self.config.handler, self.config.task_root)
            except HandlerLoadError as exc:
                payload = protocol.fault_payload(str(exc), exc.error_type)
                return self._init_failed(payload, exc.error_type)
            except Exception as exc:  # the module raised while importing
                return self._init_failed(protocol.error_payload(exc), None)
        if self.config.snap_start:
            return self._snap_start()
        return 0

    def _init_failed(self, payload: protocol.ErrorPayload, error_type: str | None) -> int:
        log_error(payload)
        self.client.post_init_error(payload, error_type)
        self.client.close()
        return EXIT_INIT_ERROR

    def _snap_start(self) -> int:
        try:
            import snapshot_restore_py as hooks  # type: ignore[import-untyped]  # noqa: PLC0415
        except ImportError:
            hooks = None
        try:
            if hooks is not None:
                before = hooks.get_before_snapshot()
                while before:  # reverse order of registration, like the stock runtime
                    func, args, kwargs = before.pop()
                    func(*args, **kwargs)
            self.client.restore_next()
        except Exception as exc:
            payload = protocol.error_payload(exc)
            log_error(payload)
            self.client.post_init_error(payload, "Runtime.BeforeSnapshotError")
            self.client.close()
            return EXIT_BEFORE_SNAPSHOT_ERROR
        self.client.close()  # a connection made before the snapshot may be dead after it
        _reseed_random()  # every restored copy would otherwise share the snapshot's state
        try:
            if hooks is not None:
                for func, args, kwargs in hooks.get_after_restore():
                    func(*args, **kwargs)
        except Exception as exc:
            payload = protocol.error_payload(exc)
            log_error(payload)
            self.client.post_restore_error(payload)
            self.client.close()
            return EXIT_AFTER_RESTORE_ERROR
        return 0

    def make_context(self, invocation: Invocation) -> LambdaContext:
        settings = self._settings
        if settings is None:
            settings = self._settings = function_settings(self.environ)
        return LambdaContext.build(invocation, settings, self.clock)

    def run_once(self) -> Outcome:
        """Wait for one event and answer it."""
        handler = self.handler
        assert handler is not None, "call init() first"
        invocation = self.next_invocation()
        trace_id = invocation.trace_id
        environ = self.environ
        if trace_id is not None:
            environ[TRACE_ENV] = trace_id
        elif TRACE_ENV in environ:
            del environ[TRACE_ENV]
        request_filter = self.request_filter
        if request_filter is not None:
            request_filter.request_id = invocation.request_id
            request_filter.tenant_id = invocation.tenant_id
        try:
            return handle(invocation, handler, self.make_context, self.client)
        except RuntimeApiError as exc:
            log.error("invocation %s: %s", invocation.request_id, exc)
            self.client.close()
            return Outcome.ERROR

    def next_invocation(self) -> Invocation:
        """``GET /next``, retried with backoff on a failure (the answer is unusable, or the
        connection broke); after :data:`NEXT_ATTEMPTS` failures in a row, one critical log
        line and :class:`RuntimeApiError`, which ends the process."""
        client = self.client
        failures = 0
        while True:
            try:
                return client.next_invocation()
            except RuntimeApiError as exc:
                client.close()  # whatever the connection held is not to be trusted
                failures += 1
                if failures >= NEXT_ATTEMPTS:
                    log.critical(
                        "giving up: GET /runtime/invocation/next failed %d times in a row "
                        "(last: %s); the runtime exits",
                        failures,
                        exc,
                    )
                    raise
                delay = min(NEXT_BACKOFF * 2 ** (failures - 1), 1.0)
                log.warning(
                    "GET /runtime/invocation/next failed (%s); retry %d of %d in %.2f s",
                    exc,
                    failures,
                    NEXT_ATTEMPTS - 1,
                    delay,
                )
                self.sleep(delay)

    def serve(self, max_invocations: int | None = None) -> None:
        """The loop; forever unless ``max_invocations`` is given."""
        run_once = self.run_once
        if max_invocations is None:
            while True:
                run_once()
        for _ in range(max_invocations):
            run_once()


def main(environ: MutableMapping[str, str] | None = None) -> None:
    env = os.environ if environ is None else environ
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(line_buffering=True)
    request_filter = setup_logging(env)
    try:
        config = RuntimeConfig.from_environ(env)
    except RuntimeApiError as exc:
        log.critical("%s", exc)
        sys.exit(EXIT_INIT_ERROR)
    runtime = Runtime(config, env, request_filter=request_filter)
    status = runtime.init()
    if status:
        sys.exit(status)
    try:
        runtime.serve()
    except RuntimeApiError:  # /next kept failing: already logged
        sys.exit(EXIT_RUNTIME_API_ERROR)


def _reseed_random() -> None:
    """Reseed ``random`` from the OS after a SnapStart restore (only if it was imported: the
    jitter of waiters and retries would otherwise be identical in every restored sandbox)."""
    module = sys.modules.get("random")
    if module is not None:
        module.seed()
