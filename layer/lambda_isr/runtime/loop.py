"""The runtime loop: init (logging, handler import, SnapStart), then next -> handler -> response.

``python -m lambda_isr.runtime`` runs :func:`main`; the exec wrapper script starts it in place of
the managed bootstrap.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any

from lambda_isr.errors import HandlerLoadError, RuntimeApiError
from lambda_isr.runtime import protocol
from lambda_isr.runtime.client import RuntimeApiClient
from lambda_isr.runtime.context import LambdaContext
from lambda_isr.runtime.invoke import Outcome, handle, log_error
from lambda_isr.runtime.loader import load_handler
from lambda_isr.runtime.logs import RequestIdFilter, setup_logging
from lambda_isr.runtime.protocol import Invocation

log = logging.getLogger("lambda_isr.runtime")

EXIT_INIT_ERROR = 1
EXIT_BEFORE_SNAPSHOT_ERROR = 64
EXIT_AFTER_RESTORE_ERROR = 65
TRACE_ENV = "_X_AMZN_TRACE_ID"


@dataclass(frozen=True)
class RuntimeConfig:
    """What the loop reads from the environment, validated once."""

    api_address: str
    handler: str
    task_root: str | None = None
    snap_start: bool = False

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


@dataclass
class Runtime:
    """One runtime process. ``environ`` and ``clock`` are injectable for tests."""

    config: RuntimeConfig
    environ: MutableMapping[str, str] = field(default_factory=lambda: os.environ)
    clock: Callable[[], float] = time.time
    handler: Callable[..., Any] | None = None
    client: RuntimeApiClient = field(init=False)
    request_filter: RequestIdFilter | None = None

    def __post_init__(self) -> None:
        self.client = RuntimeApiClient(self.config.api_address)

    def init(self) -> int:
        """Import the handler (posting init errors) and run SnapStart hooks; 0 when ready."""
        if self.handler is None:
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
        return LambdaContext.for_invocation(invocation, self.environ, self.clock)

    def run_once(self) -> Outcome:
        """Wait for one event and answer it."""
        assert self.handler is not None, "call init() first"
        invocation = self.client.next_invocation()
        if invocation.trace_id is not None:
            self.environ[TRACE_ENV] = invocation.trace_id
        else:
            self.environ.pop(TRACE_ENV, None)
        if self.request_filter is not None:
            self.request_filter.request_id = invocation.request_id
            self.request_filter.tenant_id = invocation.tenant_id
        try:
            return handle(invocation, self.handler, self.make_context, self.client)
        except RuntimeApiError as exc:
            log.error("invocation %s: %s", invocation.request_id, exc)
            self.client.close()
            return Outcome.ERROR

    def serve(self, max_invocations: int | None = None) -> None:
        """The loop; forever unless ``max_invocations`` is given."""
        done = 0
        while max_invocations is None or done < max_invocations:
            self.run_once()
            done += 1


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
    runtime.serve()
