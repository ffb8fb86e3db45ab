"""Frozen, validated ISR configuration (validated once, at decoration)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING

from lambda_isr.errors import ConfigError

if TYPE_CHECKING:
    from lambda_isr.http.request import FaceRequest

DEFAULT_CACHEABLE_STATUSES = frozenset({200, 203, 301, 404, 410})
TENANT_HEADERS = ("x-tenant-id", "x-facetheory-tenant")


class ContentionPolicy(Enum):
    """What a request does when another request holds the lease and a stale copy exists."""

    SERVE_STALE = "serve-stale"
    """Answer with the stale copy at once (stale-while-revalidate)."""
    WAIT = "wait"
    """Wait (bounded) for the new generation, then fall back to the stale copy."""


class Regeneration(Enum):
    """When the request that wins the lease on a stale page regenerates it."""

    BLOCKING = "blocking"
    """It renders the new page and streams it (it waits for the render)."""
    AFTER_RESPONSE = "after-response"
    """It is answered with the stale copy at once; the same invocation then renders and commits
    the new page with no client (only when time after the response exists and the invocation
    has more time left than the lease; otherwise blocking)."""


class TrailingSlash(Enum):
    STRIP = "strip"
    """``/a/`` and ``/a`` are one page."""
    KEEP = "keep"
    """``/a/`` and ``/a`` are different pages."""


TenantRule = Callable[["FaceRequest"], "str | None"]
KeyFunction = Callable[["FaceRequest"], str]


def _names(value: object, what: str, *, lower: bool) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, tuple | list | frozenset | set):
        raise ConfigError(f"{what} must be a list of names, e.g. ({what}=['page'])")
    out = []
    for name in value:
        if not isinstance(name, str) or not name.strip():
            raise ConfigError(f"{what} entries must be non-empty strings, got {name!r}")
        out.append(name.strip().lower() if lower else name.strip())
    return tuple(sorted(set(out)))


@dataclass(frozen=True, slots=True)
class KeyConfig:
    """How a request maps to a cache key.

    ``vary_query``: only these query parameters vary the page (all others, e.g. ``utm_*``,
    are ignored). ``vary_headers``: headers whose (hashed) values vary the page; listing
    ``authorization`` makes authenticated requests cacheable per credential.
    ``vary_cookies``: ``None`` (default) means cookies are credentials: a request carrying any
    cookie is rendered uncached. A list means only those cookies matter (hashed into the key)
    and every other cookie is ignored. ``tenant``: a rule returning the tenant id; without one,
    a request carrying a tenant header fails closed. ``key``: replaces the path-and-query part
    of the key (host, tenant and varied values are still added).
    """

    vary_query: tuple[str, ...] = ()
    vary_headers: tuple[str, ...] = ()
    vary_cookies: tuple[str, ...] | None = None
    vary_host: bool = True
    tenant: TenantRule | None = None
    key: KeyFunction | None = None
    trailing_slash: TrailingSlash = TrailingSlash.STRIP

    def __post_init__(self) -> None:
        object.__setattr__(self, "vary_query", _names(self.vary_query, "vary_query", lower=False))
        object.__setattr__(
            self, "vary_headers", _names(self.vary_headers, "vary_headers", lower=True)
        )
        if self.vary_cookies is not None:
            cookies = _names(self.vary_cookies, "vary_cookies", lower=False)
            object.__setattr__(self, "vary_cookies", cookies)
        for name, fn in (("tenant", self.tenant), ("key", self.key)):
            if fn is not None and not callable(fn):
                raise ConfigError(f"{name} must be a callable taking the FaceRequest")
        if not isinstance(self.trailing_slash, TrailingSlash):
            raise ConfigError("trailing_slash must be a TrailingSlash member")


def _positive(value: object, what: str, *, allow_zero: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"{what} must be a number of seconds, got {value!r}")
    if value < 0 or (value == 0 and not allow_zero) or math.isnan(value):
        raise ConfigError(f"{what} must be {'>= 0' if allow_zero else '> 0'}, got {value!r}")
    return float(value)


@dataclass(frozen=True, slots=True)
class IsrConfig:
    """Everything the engine needs besides the store, the clock and the render."""

    revalidate: int
    lease_seconds: float = 4.0
    """The regeneration lease: refreshed every :attr:`lease_refresh_seconds` while a render
    runs, so a holder that dies blocks its key for at most this long (rounded up)."""
    wait_timeout: float = 10.0
    poll_interval: float = 0.05
    """A waiter's first (and shortest) interval between reads of the record."""
    poll_ratio: float = 0.1
    """A waiter's later reads are ``poll_interval`` plus this fraction of its wait so far
    apart (at most :data:`~lambda_isr.isr.wait.LEASE_RETRY_SECONDS`): it sees a commit within
    about ``1 + poll_ratio`` times the holder's render, and its reads grow with the log of the
    wait, not with the wait (:class:`~lambda_isr.isr.wait.PollSchedule`). 0: every
    ``poll_interval``."""
    contention: ContentionPolicy = ContentionPolicy.SERVE_STALE
    regeneration: Regeneration = Regeneration.BLOCKING
    cacheable_statuses: frozenset[int] = DEFAULT_CACHEABLE_STATUSES
    max_body_bytes: int = 5 * 1024 * 1024
    stale_if_error: int = 86_400
    deadline_margin: float = 1.0
    cdn_cache_control: bool = True
    keys: KeyConfig = field(default_factory=KeyConfig)
    route: str | None = None
    """The route pattern of a ``FaceApp`` page, stored with each generation (additive)."""
    tags: frozenset[str] = frozenset()
    """Cache tags of every generation of this page (``tags=`` on the route), for
    :func:`lambda_isr.invalidate_tags`; a render adds its own (``FaceResult(tags=...)``)."""
    static: bool = False
    """A prerendered (SSG) page: stored without ``ttl``, never stale on a schedule."""
    pass_seconds: float | None = None
    """Hit-for-pass: once a render shows the page cannot be stored, requests render uncached,
    in parallel, for this long (default ``min(revalidate, 30)``; 0 turns it off)."""

    @property
    def hit_for_pass_seconds(self) -> float:
        if self.pass_seconds is None:
            return float(min(self.revalidate, 30))
        return self.pass_seconds

    @property
    def lease_refresh_seconds(self) -> float:
        """How often a render in progress refreshes its lease: every second (a quarter of the
        lease when that is shorter). One conditional write per refresh."""
        return min(1.0, self.lease_seconds / 4)

    @property
    def holder_silent_seconds(self) -> float:
        """A lease whose expiry has not moved for longer than this (two refreshes, plus the
        whole-second rounding) belongs to a holder that stopped refreshing: it died."""
        return 2 * self.lease_refresh_seconds + 1.0

    def __post_init__(self) -> None:
        rv = self.revalidate
        if isinstance(rv, bool) or not isinstance(rv, int) or rv < 1:
            raise ConfigError(f"revalidate must be a whole number of seconds >= 1, got {rv!r}")
        _positive(self.lease_seconds, "lease_seconds")
        if self.lease_seconds < 1:
            raise ConfigError("lease_seconds must be >= 1 (stores round leases to seconds)")
        _positive(self.wait_timeout, "wait_timeout", allow_zero=True)
        _positive(self.poll_interval, "poll_interval")
        _positive(self.poll_ratio, "poll_ratio", allow_zero=True)
        _positive(self.deadline_margin, "deadline_margin", allow_zero=True)
        if not isinstance(self.contention, ContentionPolicy):
            raise ConfigError("contention must be ContentionPolicy.SERVE_STALE or .WAIT")
        if not isinstance(self.regeneration, Regeneration):
            raise ConfigError("regeneration must be Regeneration.BLOCKING or .AFTER_RESPONSE")
        statuses = self.cacheable_statuses
        if not isinstance(statuses, frozenset | set | tuple | list) or not all(
            isinstance(s, int) and not isinstance(s, bool) and 200 <= s <= 499 for s in statuses
        ):
            raise ConfigError("cacheable_statuses must be status codes 200-499 (5xx never cache)")
        object.__setattr__(self, "cacheable_statuses", frozenset(statuses))
        mb = self.max_body_bytes
        if isinstance(mb, bool) or not isinstance(mb, int) or mb < 0:
            raise ConfigError(f"max_body_bytes must be an integer >= 0, got {mb!r}")
        sie = self.stale_if_error
        if isinstance(sie, bool) or not isinstance(sie, int) or sie < 0:
            raise ConfigError(f"stale_if_error must be whole seconds >= 0, got {sie!r}")
        if self.pass_seconds is not None:
            _positive(self.pass_seconds, "pass_seconds", allow_zero=True)
        if not isinstance(self.keys, KeyConfig):
            raise ConfigError("keys must be a KeyConfig")
