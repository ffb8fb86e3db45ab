"""The vocabulary of the ISR decision core: events in, actions out (frozen values, no I/O).

The driver (:mod:`lambda_isr.isr.driver`) performs each action against the store and the reply
and feeds back the event that says what happened. Clock readings travel inside events: the core
has no clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from lambda_isr.errors import LambdaIsrError
from lambda_isr.isr.states import CacheState
from lambda_isr.store.contract import AcquireResult, CacheRecord, Lease

# --- events ---------------------------------------------------------------------------------


class RenderOutcome(Enum):
    """How a render through the pipeline ended."""

    COMMITTED = "committed"
    """Answered in full, stored and committed."""
    NOT_STORED = "not-stored"
    """Answered in full; not stored (uncacheable, oversize, no lease, fenced off, store error)."""
    EARLY_FAILURE = "early-failure"
    """The render failed before its first byte: nothing was sent."""
    LATE_FAILURE = "late-failure"
    """The render or the stream failed after the head: the answer ended with the footer."""


class KeyProblem(Enum):
    """Why a request could not be keyed (it never touches the store)."""

    TENANT_REQUIRED = "tenant-required"
    """A tenant header arrived and no tenant rule is configured: fail closed with 500."""
    BAD_REQUEST = "bad-request"
    """The request cannot be keyed (bad path, over-long key): 400."""


@dataclass(frozen=True, slots=True)
class Begin:
    method: str
    key: str | None
    """The cache key, or ``None`` when the request bypasses the cache."""
    bypass_reason: str | None = None
    problem: KeyProblem | None = None
    now: float = 0.0
    mono: float = 0.0
    remaining: float | None = None
    """Seconds left in the Lambda invocation, when known."""
    pass_until: float | None = None
    """A hit-for-pass marker this process saw for the key (epoch seconds), when live."""
    after_response: bool = False
    """Time after the response exists (the layer's streaming runtime): a render may run once
    the answer has ended."""


@dataclass(frozen=True, slots=True)
class RecordRead:
    record: CacheRecord | None
    now: float
    mono: float


@dataclass(frozen=True, slots=True)
class StoreFailed:
    last_known: CacheRecord | None = None
    """The last record this process served for the key (only for ``ReadRecord(last_known)``)."""


@dataclass(frozen=True, slots=True)
class LeaseResult:
    result: AcquireResult
    now: float
    mono: float


@dataclass(frozen=True, slots=True)
class Served:
    ok: bool
    """``False``: nothing was sent (the stored body could not be read)."""


@dataclass(frozen=True, slots=True)
class Woke:
    now: float
    mono: float


@dataclass(frozen=True, slots=True)
class Rendered:
    outcome: RenderOutcome


@dataclass(frozen=True, slots=True)
class Released:
    pass


Event = Begin | RecordRead | StoreFailed | LeaseResult | Served | Woke | Rendered | Released

# --- actions --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReadRecord:
    last_known: bool = False
    """On failure, report the last record this process served (the store-down fallback)."""


@dataclass(frozen=True, slots=True)
class AcquireLease:
    pass


@dataclass(frozen=True, slots=True)
class ServeRecord:
    record: CacheRecord
    state: CacheState
    status_entry: str


@dataclass(frozen=True, slots=True)
class Render:
    """Render the page: under ``lease`` (cached: captured, published) or without (bypass)."""

    state: CacheState
    status_entry: str
    lease: Lease | None = None
    detached: bool = False
    """The answer has ended: render with no client (captured and published only)."""


@dataclass(frozen=True, slots=True)
class Sleep:
    """Wait about ``seconds`` (the driver adds jitter: 0.5x-1.5x), never more than ``cap``."""

    seconds: float
    cap: float


@dataclass(frozen=True, slots=True)
class ReleaseLease:
    lease: Lease


@dataclass(frozen=True, slots=True)
class AnswerPage:
    """Answer with the small error page (terminal)."""

    status: int
    state: CacheState
    status_entry: str
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Finish:
    """The request is answered (terminal)."""


Action = (
    ReadRecord | AcquireLease | ServeRecord | Render | Sleep | ReleaseLease | AnswerPage | Finish
)


class Note(Enum):
    """Things worth a metric (the value is the metric name) noted by the core."""

    TENANT_REJECTED = "TenantRejected"
    STORE_UNAVAILABLE = "StoreUnavailable"
    LEASE_CONTENTION = "LeaseContention"
    LEASE_TAKEOVER = "LeaseTakeover"
    WAIT_TIMEOUT = "WaitTimeout"
    HIT_FOR_PASS = "HitForPass"  # noqa: S105 - a metric name
    HOLDER_SILENT = "LeaseHolderSilent"
    AFTER_RESPONSE = "RegenerateAfterResponse"
    AFTER_RESPONSE_FAILED = "AfterResponseRenderFailed"
    AFTER_RESPONSE_UNAVAILABLE = "AfterResponseUnavailable"
    """No time after the response exists (a buffered runtime): regenerated blocking."""
    AFTER_RESPONSE_NO_TIME = "AfterResponseNoTime"
    """The invocation has no more time left than the lease: regenerated blocking."""


class IsrProtocolError(LambdaIsrError):
    """An event arrived that the decision core's current phase does not accept."""


class Phase(Enum):
    START = "start"
    READ = "read"
    SERVE_HIT = "serve-hit"
    SERVE_HEAD = "serve-head"
    SERVE_LAST = "serve-last"
    ACQUIRE = "acquire"
    SERVE_CONTENDED = "serve-contended"
    SERVE_STORE_DOWN = "serve-store-down"
    RECHECK = "recheck"
    SERVE_RECHECKED = "serve-rechecked"
    RELEASE = "release"
    RENDER = "render"
    SERVE_STALE_ERROR = "serve-stale-error"
    BYPASS = "bypass"
    WAIT_SLEEP = "wait-sleep"
    WAIT_READ = "wait-read"
    WAIT_SERVE = "wait-serve"
    WAIT_ACQUIRE = "wait-acquire"
    SERVE_TIMEOUT = "serve-timeout"
    SERVE_AFTER = "serve-then-regenerate"
    RECHECK_AFTER = "recheck-after-response"
    RENDER_AFTER = "render-after-response"
    DONE = "done"
    ERROR = "error"
