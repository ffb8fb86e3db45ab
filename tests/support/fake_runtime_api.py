"""A fake Lambda Runtime API for tests: the package's :class:`LocalRuntimeApi` plus helpers.

It serves queued events on ``/next`` with realistic headers; records request lines, headers,
every body chunk with its arrival time, trailers, init errors and invocation errors; and stops by
itself (daemon threads, context manager).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, MutableMapping
from contextlib import contextmanager
from typing import Any

from lambda_isr.runtime.local_api import LocalRuntimeApi
from lambda_isr.runtime.loop import Runtime, RuntimeConfig
from lambda_isr.runtime.recording import PendingInvocation, RecordedRequest

__all__ = ["FakeRuntimeApi", "fake_api", "run_in_process"]


class FakeRuntimeApi(LocalRuntimeApi):
    """The package's local Runtime API with lookups convenient in assertions."""

    def response_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.method == "POST" and "/invocation/" in r.target]

    def request_for(self, pending: PendingInvocation) -> RecordedRequest:
        assert pending.request is not None, "the runtime never answered this invocation"
        return pending.request


@contextmanager
def fake_api() -> Iterator[FakeRuntimeApi]:
    with FakeRuntimeApi() as api:
        yield api


def make_runtime(
    api: LocalRuntimeApi,
    handler: Callable[..., Any],
    environ: MutableMapping[str, str] | None = None,
    clock: Callable[[], float] | None = None,
) -> Runtime:
    config = RuntimeConfig(api_address=api.address, handler="test.handler")
    env: MutableMapping[str, str] = {} if environ is None else environ
    return (
        Runtime(config, env, handler=handler)
        if clock is None
        else Runtime(config, env, clock, handler=handler)
    )


def run_in_process(
    api: LocalRuntimeApi,
    handler: Callable[..., Any],
    events: list[Any],
    *,
    environ: MutableMapping[str, str] | None = None,
    timeout: float = 20.0,
) -> list[PendingInvocation]:
    """Queue ``events``, run a runtime loop for exactly that many invocations in a thread,
    and wait for every result."""
    pendings = [api.enqueue(e) for e in events]
    runtime = make_runtime(api, handler, environ)
    errors: list[BaseException] = []

    def target() -> None:
        try:
            runtime.serve(len(events))
        except BaseException as exc:  # surfaced below
            errors.append(exc)
        finally:
            runtime.client.close()

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(timeout)
    assert not thread.is_alive(), "the runtime loop did not finish"
    if errors:
        raise errors[0]
    return [p.wait(timeout) for p in pendings]
