"""Fault injection for chaos tests: wrap a MetaStore and an HtmlStore, make them fail.

::

    plan = FaultPlan(rate=0.2, seed=7)                 # 20 % of every call fails, reproducibly
    store = Store(FaultyMetaStore(meta, plan), FaultyHtmlStore(html, plan))
    plan.fail("get", "put")                            # ...and these always fail
    plan.fail_next("commit_generation", after=True)    # the commit lands, then "times out"
    plan.fail_next("read")                             # the next opened body breaks mid-stream
    with plan.paused():                                # no faults inside this block
        ...
    plan.disable()                                     # switched off at run time

Every injected fault is a :class:`InjectedFaultError`, a
:class:`~lambda_isr.errors.StoreUnavailableError` (what a real backend raises for throttling,
timeouts, 5xx and connection resets after its retries), so the code under test sees exactly
what it would see in production. Operations are named after the protocol methods:

- meta: ``get``, ``try_acquire_lease``, ``refresh_lease``, ``commit_generation``,
  ``release_lease``, ``mark_uncacheable``, ``invalidate``;
- html: ``put``, ``open`` and ``read``, one chunk of an opened body. The first
  ``plan.read_after`` chunks (default 1) of each body are never failed, so a ``read`` fault is a
  failure *after* the first bytes were handed out (a connection reset mid-body).

A fault raised *before* the call means the call never reached the store; with ``after=True``
the wrapped call runs first and its result is lost (the write happened, the caller is told it
failed: the ambiguous timeout). Random faults (``rate``) are always raised before the call.
The plan is thread-safe and counts calls and faults per operation (:attr:`FaultPlan.calls`,
:attr:`FaultPlan.injected`). One plan may drive several wrappers.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from enum import Enum
from typing import TypeVar

from lambda_isr.errors import ConfigError, StoreUnavailableError
from lambda_isr.store.contract import (
    DEFAULT_CONTENT_TYPE,
    AcquireResult,
    CacheRecord,
    HtmlStore,
    HtmlStream,
    Lease,
    MetaStore,
    PassMarker,
    StoredObject,
)

T = TypeVar("T")

META_OPS = frozenset(
    {
        "get",
        "try_acquire_lease",
        "refresh_lease",
        "commit_generation",
        "release_lease",
        "mark_uncacheable",
        "invalidate",
    }
)
HTML_OPS = frozenset({"put", "open", "read"})
ALL_OPS = META_OPS | HTML_OPS


class FaultKind(Enum):
    """The flavour of an injected outage (only the message differs: all are unavailable)."""

    THROTTLING = "throttling"
    TIMEOUT = "timeout"
    SERVER_ERROR = "server-error"
    CONNECTION_RESET = "connection-reset"


_MESSAGES = {
    FaultKind.THROTTLING: "ThrottlingException: Rate of requests exceeds the allowed throughput",
    FaultKind.TIMEOUT: "ReadTimeoutError: Read timeout on endpoint URL",
    FaultKind.SERVER_ERROR: "InternalServerError (500): We encountered an internal error",
    FaultKind.CONNECTION_RESET: "ConnectionResetError: [Errno 104] Connection reset by peer",
}


class InjectedFaultError(StoreUnavailableError):
    """A fault raised by a :class:`FaultPlan` (``op`` failed with ``kind``)."""

    def __init__(self, op: str, kind: FaultKind) -> None:
        super().__init__(f"injected fault on {op}: {_MESSAGES[kind]}")
        self.op = op
        self.kind = kind


@dataclass(slots=True)
class _Scripted:
    remaining: int | None  # None: until cleared
    kind: FaultKind | None
    after: bool


def _check_ops(ops: Iterable[str]) -> frozenset[str]:
    out = frozenset(ops)
    unknown = out - ALL_OPS
    if unknown:
        raise ConfigError(f"unknown store operations {sorted(unknown)}; known: {sorted(ALL_OPS)}")
    return out


class FaultPlan:
    """What fails, when. Shared by :class:`FaultyMetaStore` and :class:`FaultyHtmlStore`.

    ``rate``: probability that any call of an operation in ``rate_ops`` (default: all) fails,
    drawn from ``random.Random(seed)``. ``kinds``: the flavours to cycle through (random faults
    pick one with the same generator). ``read_after``: chunks of each opened body that never
    fail. ``enabled``: the master switch (counting continues while disabled).
    """

    def __init__(
        self,
        *,
        rate: float = 0.0,
        seed: int = 0,
        rate_ops: Iterable[str] = ALL_OPS,
        kinds: Sequence[FaultKind] = tuple(FaultKind),
        read_after: int = 1,
        enabled: bool = True,
    ) -> None:
        if not 0.0 <= rate <= 1.0:
            raise ConfigError(f"rate must be within [0, 1], got {rate!r}")
        if not kinds:
            raise ConfigError("kinds must name at least one FaultKind")
        if read_after < 0:
            raise ConfigError("read_after must be >= 0")
        self.rate = rate
        self.rate_ops = _check_ops(rate_ops)
        self.kinds = tuple(kinds)
        self.read_after = read_after
        self.enabled = enabled
        self.calls: Counter[str] = Counter()
        """Calls seen per operation (faulted or not; ``read`` counts chunks)."""
        self.injected: Counter[str] = Counter()
        """Faults raised per operation."""
        self._random = random.Random(seed)
        self._scripted: dict[str, _Scripted] = {}
        self._lock = threading.Lock()
        self._next_kind = 0

    # --- switches -------------------------------------------------------------------------

    def enable(self) -> None:
        self.enabled = True

    def disable(self) -> None:
        self.enabled = False

    @contextmanager
    def paused(self) -> Iterator[None]:
        """No faults inside the block (the previous switch state is restored after it)."""
        before, self.enabled = self.enabled, False
        try:
            yield
        finally:
            self.enabled = before

    def fail(self, *ops: str, kind: FaultKind | None = None, after: bool = False) -> None:
        """Fail every call of ``ops`` until :meth:`clear` (while the plan is enabled)."""
        with self._lock:
            for op in _check_ops(ops):
                self._scripted[op] = _Scripted(None, kind, after)

    def fail_next(
        self, op: str, times: int = 1, *, kind: FaultKind | None = None, after: bool = False
    ) -> None:
        """Fail the next ``times`` calls of ``op`` (while the plan is enabled)."""
        if times < 1:
            raise ConfigError("times must be >= 1")
        with self._lock:
            self._scripted[next(iter(_check_ops([op])))] = _Scripted(times, kind, after)

    def clear(self, *ops: str) -> None:
        """Forget scripted faults on ``ops`` (all of them when none is named); ``rate`` stays."""
        with self._lock:
            if not ops:
                self._scripted.clear()
            for op in _check_ops(ops):
                self._scripted.pop(op, None)

    def heal(self) -> None:
        """No more faults of any kind: scripted ones cleared and ``rate`` set to 0."""
        self.clear()
        self.rate = 0.0

    # --- decisions ------------------------------------------------------------------------

    def _kind(self, wanted: FaultKind | None) -> FaultKind:
        if wanted is not None:
            return wanted
        kind = self.kinds[self._next_kind % len(self.kinds)]
        self._next_kind += 1
        return kind

    def _decide(self, op: str) -> tuple[FaultKind, bool] | None:
        """Count the call; a fault (kind, after?) or ``None``."""
        with self._lock:
            self.calls[op] += 1
            if not self.enabled:
                return None
            scripted = self._scripted.get(op)
            if scripted is not None:
                if scripted.remaining is not None:
                    scripted.remaining -= 1
                    if scripted.remaining <= 0:
                        del self._scripted[op]
                self.injected[op] += 1
                return self._kind(scripted.kind), scripted.after
            if self.rate > 0 and op in self.rate_ops and self._random.random() < self.rate:
                self.injected[op] += 1
                return self.kinds[self._random.randrange(len(self.kinds))], False
            return None

    def call(self, op: str, fn: Callable[[], T]) -> T:
        """Run ``fn`` as operation ``op`` under this plan."""
        fault = self._decide(op)
        if fault is None:
            return fn()
        kind, after = fault
        if after:
            fn()
        raise InjectedFaultError(op, kind)


class FaultyMetaStore:
    """A :class:`~lambda_isr.store.contract.MetaStore` whose calls fail as ``plan`` says."""

    def __init__(self, inner: MetaStore, plan: FaultPlan) -> None:
        self.inner = inner
        self.plan = plan

    def get(self, cache_key: str) -> CacheRecord | None:
        return self.plan.call("get", lambda: self.inner.get(cache_key))

    def try_acquire_lease(self, cache_key: str, duration: float) -> AcquireResult:
        return self.plan.call(
            "try_acquire_lease", lambda: self.inner.try_acquire_lease(cache_key, duration)
        )

    def refresh_lease(self, lease: Lease, duration: float) -> Lease:
        return self.plan.call("refresh_lease", lambda: self.inner.refresh_lease(lease, duration))

    def commit_generation(self, lease: Lease, record: CacheRecord) -> None:
        self.plan.call("commit_generation", lambda: self.inner.commit_generation(lease, record))

    def release_lease(self, lease: Lease) -> None:
        self.plan.call("release_lease", lambda: self.inner.release_lease(lease))

    def mark_uncacheable(self, lease: Lease, seconds: float) -> bool:
        """Passed on when the inner store leaves hit-for-pass markers (else ``False``)."""
        inner = self.inner
        if not isinstance(inner, PassMarker):
            return False
        return self.plan.call("mark_uncacheable", lambda: inner.mark_uncacheable(lease, seconds))

    def invalidate(self, cache_key: str) -> bool:
        return self.plan.call("invalidate", lambda: self.inner.invalidate(cache_key))


class FaultyHtmlStore:
    """A :class:`~lambda_isr.store.contract.HtmlStore` whose calls (and bodies) fail as
    ``plan`` says. ``chunk_size``, when set, overrides the caller's, so that small test pages
    still arrive in several chunks and can break midway."""

    def __init__(self, inner: HtmlStore, plan: FaultPlan, *, chunk_size: int | None = None) -> None:
        if chunk_size is not None and chunk_size < 1:
            raise ConfigError("chunk_size must be >= 1")
        self.inner = inner
        self.plan = plan
        self.chunk_size = chunk_size

    def put(
        self,
        cache_key: str,
        body: bytes,
        *,
        status: int = 200,
        content_type: str = DEFAULT_CONTENT_TYPE,
        headers: Sequence[tuple[str, str]] = (),
    ) -> StoredObject:
        return self.plan.call(
            "put",
            lambda: self.inner.put(
                cache_key, body, status=status, content_type=content_type, headers=headers
            ),
        )

    def open(self, key: str, chunk_size: int = 65_536) -> HtmlStream | None:
        size = self.chunk_size or chunk_size
        opened = self.plan.call("open", lambda: self.inner.open(key, size))
        if opened is None:
            return None
        return HtmlStream(opened.meta, self._chunks(opened.chunks), opened.close, opened.damaged)

    def _chunks(self, chunks: Iterator[bytes]) -> Iterator[bytes]:
        for index, chunk in enumerate(chunks):
            if index >= self.plan.read_after:
                self.plan.call("read", lambda: None)
            yield chunk
