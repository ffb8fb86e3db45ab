"""Test doubles for the ISR tests: a recording writer, spying stores, a fake Lambda context."""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from aws_lambda_powertools import Logger, Metrics

from lambda_isr.clock import Clock
from lambda_isr.errors import StoreUnavailableError
from lambda_isr.face import IsrFace, isr_face
from lambda_isr.http.request import FaceRequest
from lambda_isr.runtime.writer import BufferedWriter, HeaderInput, to_bytes
from lambda_isr.store.contract import (
    DEFAULT_CONTENT_TYPE,
    AcquireResult,
    CacheRecord,
    HtmlStore,
    HtmlStream,
    Lease,
    MetaStore,
    Store,
    StoredObject,
)
from lambda_isr.store.memory import MemoryHtmlStore, MemoryMetaStore
from lambda_isr.testing import FakeClock


class RecordingWriter(BufferedWriter):
    """A live-stream stand-in: the buffered writer's state checks, plus every call recorded,
    in order, into ``log``."""

    def __init__(self, log: list[tuple[Any, ...]] | None = None) -> None:
        super().__init__()
        self.log: list[tuple[Any, ...]] = log if log is not None else []

    @property
    def ended(self) -> bool:
        """Finished normally (``end``), not with ``fail``."""
        return self.finished and self.error is None

    def start(
        self, status: int = 200, headers: HeaderInput | None = None, cookies: Sequence[str] = ()
    ) -> None:
        super().start(status, headers, cookies)
        self.log.append(("start", self.status))

    def write(self, data: bytes | str) -> None:
        super().write(data)
        self.log.append(("write", to_bytes(data)))

    def end(self) -> None:
        super().end()
        self.log.append(("end",))

    def fail(self, error: BaseException) -> None:
        super().fail(error)
        self.log.append(("fail", error))


class SpyMeta:
    """Wraps a MetaStore: records calls into ``log``, can fail ``get`` on demand."""

    def __init__(self, inner: Any, log: list[tuple[Any, ...]]) -> None:
        self.inner = inner
        self.log = log
        self.get_error: Exception | None = None
        self.acquire_error: Exception | None = None
        self.on_acquire: Callable[[AcquireResult], None] | None = None
        self.refreshed = threading.Event()
        self.calls: dict[str, int] = {}
        self._lock = threading.Lock()

    def _note(self, name: str, *extra: Any) -> None:
        with self._lock:
            self.calls[name] = self.calls.get(name, 0) + 1
            self.log.append((name, *extra))

    def get(self, cache_key: str) -> CacheRecord | None:
        self._note("get")
        if self.get_error is not None:
            raise self.get_error
        record: CacheRecord | None = self.inner.get(cache_key)
        return record

    def try_acquire_lease(self, cache_key: str, duration: float) -> AcquireResult:
        if self.acquire_error is not None:
            raise self.acquire_error
        result: AcquireResult = self.inner.try_acquire_lease(cache_key, duration)
        self._note("acquire", isinstance(result, Lease))
        if self.on_acquire is not None:
            self.on_acquire(result)
        return result

    def refresh_lease(self, lease: Lease, duration: float) -> Lease:
        try:
            fresh: Lease = self.inner.refresh_lease(lease, duration)
            return fresh
        finally:
            self._note("refresh")
            self.refreshed.set()

    def commit_generation(self, lease: Lease, record: CacheRecord) -> None:
        self._note("commit")
        self.inner.commit_generation(lease, record)

    def release_lease(self, lease: Lease) -> None:
        self._note("release")
        self.inner.release_lease(lease)

    def mark_uncacheable(self, lease: Lease, seconds: float) -> bool:
        self._note("mark")
        return bool(self.inner.mark_uncacheable(lease, seconds))

    def invalidate(self, cache_key: str) -> bool:
        return bool(self.inner.invalidate(cache_key))


class SpyHtml:
    def __init__(self, inner: Any, log: list[tuple[Any, ...]]) -> None:
        self.inner = inner
        self.log = log
        self.opens = 0
        self.open_error: Exception | None = None

    def put(
        self,
        cache_key: str,
        body: bytes,
        *,
        status: int = 200,
        content_type: str = DEFAULT_CONTENT_TYPE,
        headers: Sequence[tuple[str, str]] = (),
    ) -> StoredObject:
        self.log.append(("html_put",))
        stored: StoredObject = self.inner.put(
            cache_key, body, status=status, content_type=content_type, headers=headers
        )
        return stored

    def open(self, key: str, chunk_size: int = 65_536) -> HtmlStream | None:
        self.opens += 1
        if self.open_error is not None:
            raise self.open_error
        opened: HtmlStream | None = self.inner.open(key, chunk_size)
        return opened


@dataclass
class FakeContext:
    aws_request_id: str = "lambda-req-1"
    function_name: str = "isr-fn"
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:isr-fn"
    memory_limit_in_mb: int = 512
    remaining_ms: int = 30_000

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


@dataclass
class Env:
    """One face wired to spying memory stores and a fake clock."""

    face: IsrFace
    clock: FakeClock
    meta: SpyMeta
    html: SpyHtml
    log: list[tuple[Any, ...]]
    logs: io.StringIO
    renders: list[FaceRequest] = field(default_factory=list)

    def log_lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.logs.getvalue().splitlines() if line.strip()]

    def summaries(self) -> list[dict[str, Any]]:
        return [line for line in self.log_lines() if line.get("message") == "lambda-isr request"]


_logger_seq = iter(range(1_000_000))


def make_env(
    body: Callable[[FaceRequest], Any] | None = None,
    *,
    clock: Clock | None = None,
    revalidate: int = 60,
    meta_store: MetaStore | None = None,
    html_store: HtmlStore | None = None,
    **options: Any,
) -> Env:
    """A face over memory stores. ``body(request)`` is the face; renders are recorded."""
    fake = clock if isinstance(clock, FakeClock) else FakeClock(1_000_000.0)
    real_clock = clock or fake
    log: list[tuple[Any, ...]] = []
    meta = SpyMeta(meta_store or MemoryMetaStore(clock=real_clock), log)
    html = SpyHtml(html_store or MemoryHtmlStore(), log)
    logs = io.StringIO()
    logger = Logger(service=f"isr-test-{next(_logger_seq)}", stream=logs)
    renders: list[FaceRequest] = []

    def default_body(request: FaceRequest) -> Any:
        yield "<html>"
        yield f"page {request.path} #{len(renders)}"
        yield "</html>"

    fn = body or default_body

    def face_fn(request: FaceRequest) -> Any:
        renders.append(request)
        return fn(request)

    options.setdefault("metrics", Metrics(namespace="IsrTest", service="isr-test"))
    face = isr_face(
        revalidate=revalidate,
        store=Store(meta, html),
        clock=real_clock,
        logger=logger,
        **options,
    )(face_fn)
    return Env(face, fake, meta, html, log, logs, renders)


def down() -> StoreUnavailableError:
    return StoreUnavailableError("throttled (test)")


class HookClock(FakeClock):
    """A fake clock that calls ``on_sleep(n)`` after the n-th sleep (n from 1)."""

    def __init__(self, start: float = 1_000_000.0) -> None:
        super().__init__(start)
        self.sleeps = 0
        self.on_sleep: Callable[[int], None] | None = None

    def sleep(self, seconds: float) -> None:
        super().sleep(seconds)
        self.sleeps += 1
        if self.on_sleep is not None:
            self.on_sleep(self.sleeps)


HOST = "abc123.lambda-url.us-east-1.on.aws"


def key_for(path: str = "/blog/hello-world", host: str = HOST) -> str:
    return f"default::{host}{path}"


def stream(env: Env, event: dict[str, Any], context: Any = None) -> RecordingWriter:
    writer = RecordingWriter(env.log)
    env.face.__lambda_isr_stream__(event, context or FakeContext(), writer)
    return writer


def commit_other(env: Env, cache_key: str, body: bytes, lease: Lease | None = None) -> CacheRecord:
    """Another process commits a generation of ``cache_key`` (using ``lease`` or a new one)."""
    inner = env.meta.inner
    if lease is None:
        got = inner.try_acquire_lease(cache_key, 15)
        assert isinstance(got, Lease)
        lease = got
    obj = env.html.inner.put(cache_key, body)
    record = CacheRecord(
        cache_key=cache_key,
        html_key=obj.key,
        generated_at=env.clock.now(),
        revalidate_seconds=60,
        etag=obj.etag,
        content_hash=obj.content_hash,
        size=len(body),
    )
    inner.commit_generation(lease, record)
    return record
