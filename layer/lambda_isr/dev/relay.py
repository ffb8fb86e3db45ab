"""Follow one invocation on a worker: its events as they arrive, or why it never finished.

The local Runtime API publishes what the runtime sends. What it cannot see (the process died,
the deadline passed) is detected here and reported as a final :class:`WorkerFailure`, with
Lambda's wording.
"""

from __future__ import annotations

import queue
import time
from collections.abc import Iterator
from dataclasses import dataclass
from enum import Enum

from lambda_isr.dev.workers import Worker
from lambda_isr.runtime.recording import FINAL_EVENTS, InvocationEvent, PendingInvocation

_TICK = 0.05
_DRAIN = 0.5  # what the local API already read may still be published after the exit


class FailureKind(Enum):
    INIT_ERROR = "init-error"
    CRASHED = "crashed"
    TIMED_OUT = "timed-out"


@dataclass(frozen=True, slots=True)
class WorkerFailure:
    kind: FailureKind
    error_type: str
    message: str
    at: float


def _failure(worker: Worker, request_id: str) -> WorkerFailure:
    init = worker.init_error()
    if init is not None:
        return WorkerFailure(FailureKind.INIT_ERROR, init[0], init[1], time.monotonic())
    message = f"RequestId: {request_id} Error: {worker.describe_exit()}"
    return WorkerFailure(FailureKind.CRASHED, "Runtime.ExitError", message, time.monotonic())


def follow(
    pending: PendingInvocation, worker: Worker, timeout: float
) -> Iterator[InvocationEvent | WorkerFailure]:
    """Yield the invocation's events up to its final one, or a final :class:`WorkerFailure`."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            event = pending.events.get(timeout=_TICK)
        except queue.Empty:
            if worker.exit_code() is not None:
                try:
                    event = pending.events.get(timeout=_DRAIN)
                except queue.Empty:
                    yield _failure(worker, pending.request_id)
                    return
            elif time.monotonic() > deadline:
                worker.kill()  # Lambda ends the sandbox; the pool starts a new one
                message = f"RequestId: {pending.request_id} Error: Task timed out after "
                yield WorkerFailure(
                    FailureKind.TIMED_OUT,
                    "Sandbox.Timedout",
                    f"{message}{timeout:.2f} seconds",
                    time.monotonic(),
                )
                return
            else:
                continue
        yield event
        if isinstance(event, FINAL_EVENTS):
            return
