"""A fake Lambda Runtime API for tests: the package's :class:`LocalRuntimeApi` plus helpers.

It serves queued events on ``/next`` with realistic headers; records request lines, headers,
every body chunk with its arrival time, trailers, init errors and invocation errors; and stops by
itself (daemon threads, context manager). It also finds an invocation by its percent-encoded
request id, and can answer ``/next`` with scripted faults (:class:`NextFault`) before events.
"""

from __future__ import annotations

import socket
import struct
import threading
from collections import deque
from collections.abc import Callable, Iterator, MutableMapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from lambda_isr.runtime.local_api import LocalRuntimeApi, _Handler
from lambda_isr.runtime.loop import Runtime, RuntimeConfig
from lambda_isr.runtime.recording import PendingInvocation, RecordedRequest, StreamDecoder

__all__ = ["FakeRuntimeApi", "NextFault", "fake_api", "run_in_process"]


@dataclass(frozen=True)
class NextFault:
    """One scripted answer to ``GET /next``: ``raw`` bytes, then the connection is closed
    (kept open when ``keep_alive``), or a TCP reset when ``reset``."""

    raw: bytes = b""
    keep_alive: bool = False
    reset: bool = False

    @classmethod
    def status(cls, code: int) -> NextFault:
        body = b'{"errorMessage":"injected","errorType":"Injected"}'
        head = f"HTTP/1.1 {code} Injected\r\nContent-Length: {len(body)}\r\n\r\n"
        return cls(head.encode() + body, keep_alive=True)

    @classmethod
    def garbage(cls) -> NextFault:
        return cls(b"\x16\x03\x01 this is not HTTP \xff\xfe\r\n\r\n")

    @classmethod
    def huge_head(cls, size: int = 70 * 1024) -> NextFault:
        return cls(b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * size + b"\r\nContent-Length: 2\r\n\r\n{}")

    @classmethod
    def connection_reset(cls) -> NextFault:
        return cls(reset=True)


class _FakeHandler(_Handler):
    server: Any

    def _pending_for(self, api: LocalRuntimeApi, target: str) -> PendingInvocation | None:
        parts = target.split("/")
        if len(parts) == 6 and parts[3] == "invocation" and parts[4] != "next":
            return api.invocations.get(unquote(parts[4], encoding="latin-1", errors="strict"))
        return None

    def _route(
        self,
        api: LocalRuntimeApi,
        record: RecordedRequest,
        pending: PendingInvocation | None,
        decoder: StreamDecoder,
        streaming: bool,
    ) -> bool:
        if record.target.endswith("/runtime/invocation/next") and isinstance(api, FakeRuntimeApi):
            fault = api.take_next_fault()
            if fault is not None:
                return self._fault(fault)
        return super()._route(api, record, pending, decoder, streaming)

    def _fault(self, fault: NextFault) -> bool:
        if fault.reset:
            linger = struct.pack("ii", 1, 0)  # close with RST, not FIN
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
            with suppress(OSError):
                self.connection.close()
            return False
        self.wfile.write(fault.raw)
        self.wfile.flush()
        return fault.keep_alive


class FakeRuntimeApi(LocalRuntimeApi):
    """The package's local Runtime API with lookups convenient in assertions."""

    def __init__(self, *, default_timeout_ms: int = 900_000) -> None:
        super().__init__(default_timeout_ms=default_timeout_ms)
        self._server.RequestHandlerClass = _FakeHandler
        self._faults: deque[NextFault] = deque()
        self.faults_served = 0

    def fail_next(self, *faults: NextFault) -> None:
        """Answer the coming ``/next`` calls with ``faults``, in order, before any event."""
        with self._lock:
            self._faults.extend(faults)

    def take_next_fault(self) -> NextFault | None:
        with self._lock:
            if not self._faults:
                return None
            self.faults_served += 1
            return self._faults.popleft()

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
    sleep: Callable[[float], None] | None = None,
) -> Runtime:
    config = RuntimeConfig(api_address=api.address, handler="test.handler")
    env: MutableMapping[str, str] = {} if environ is None else environ
    runtime = (
        Runtime(config, env, handler=handler)
        if clock is None
        else Runtime(config, env, clock, handler=handler)
    )
    if sleep is not None:
        runtime.sleep = sleep
    return runtime


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
