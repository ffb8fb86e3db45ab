"""Cacheability of renders and the caching headers of every response.

Shared-cache policy (what a CDN such as CloudFront may do with our answers)
--------------------------------------------------------------------------

Only a response whose body is known complete and good is CDN-cacheable: a fresh copy served
from the store (``hit``) or a generation another request just committed (``wait-hit``).
Those get::

    Cache-Control: public, max-age=0, s-maxage=<remaining>, stale-while-revalidate=<revalidate>
    CDN-Cache-Control: public, max-age=<remaining>, stale-while-revalidate=<revalidate>,
                       stale-if-error=<stale_if_error>

- ``s-maxage=<remaining>``: the CDN keeps the page exactly as long as our own copy stays fresh
  (remaining freshness, floored, at least 1: never ``s-maxage=0``, which made FaceTheory pay a
  Lambda + DynamoDB + S3 read on every view). ``max-age=0`` keeps browsers revalidating so an
  on-demand invalidation (which cannot purge browsers) reaches them; they revalidate cheaply
  with ``If-None-Match`` -> 304.
- No ``stale-if-error`` next to ``s-maxage``: RFC 9111 gives ``s-maxage`` the semantics of
  ``proxy-revalidate``, which forbids serving stale on error (reference 02: do not combine
  them). ``stale-while-revalidate`` stays: CloudFront documents honouring it with ``s-maxage``
  (a strictly conforming cache ignores it and revalidates with us, the safe direction), and the
  origin itself keeps serving the last good page when a regeneration fails (``stale-error``).
- ``CDN-Cache-Control`` (RFC 9213) carries the lifetime as ``max-age`` there, where both stale
  directives are valid, for CDNs that implement targeted fields; CloudFront ignores it. It can
  be switched off (``cdn_cache_control=False``).
- Never ``must-revalidate``: it contradicts ``stale-if-error``.

Everything else is ``private, no-cache`` (``no-store`` for error pages and for renders that asked
for ``no-store``): a ``miss`` or ``bypass`` streams its head before the body is known good (a
failure mid-stream would otherwise let a CDN keep a page ending in an error footer); a
``stale``/``stale-error`` copy must not be pinned in a CDN while a new generation is being made.
The next request after a miss is a hit and carries the shared-cache headers.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from lambda_isr.isr.config import IsrConfig
from lambda_isr.isr.states import CacheState
from lambda_isr.store.contract import DEFAULT_CONTENT_TYPE, StoredHeaders, storable

CACHE_STATUS_NAME = "lambda-isr"
NOT_STORABLE = "header-not-storable"
PRIVATE = "private, no-cache"
NO_STORE = "no-store"

# Headers never stored with a page (recomputed per response, hop-by-hop, or per-request).
_NOT_STORED = frozenset(
    {
        "cache-control",
        "cdn-cache-control",
        "cache-status",
        "connection",
        "content-length",
        "content-type",
        "date",
        "etag",
        "expires",
        "keep-alive",
        "set-cookie",
        "transfer-encoding",
        "x-isr-cache",
        "x-request-id",
        "age",
        "last-modified",
    }
)


def _directives(value: str | None) -> set[str]:
    if not value:
        return set()
    return {part.strip().split("=", 1)[0].lower() for part in value.split(",") if part.strip()}


def uncacheable_reason(
    status: int, headers: Mapping[str, str], cookies: list[str], config: IsrConfig
) -> str | None:
    """Why a render must not be stored (``None``: it may be, if its body ends cleanly)."""
    if status not in config.cacheable_statuses:
        return f"status-{status}"
    if cookies:
        return "set-cookie"
    directives = _directives(headers.get("cache-control"))
    for word in ("private", "no-store", "no-cache"):
        if word in directives:
            return f"cache-control-{word}"
    if not storable(headers.get("content-type", DEFAULT_CONTENT_TYPE), stored_headers(headers)):
        return NOT_STORABLE
    return None


def wants_no_store(headers: Mapping[str, str]) -> bool:
    return "no-store" in _directives(headers.get("cache-control"))


def stored_headers(headers: Mapping[str, str]) -> StoredHeaders:
    """The render's headers kept with a cached page (sorted, lowercase)."""
    return tuple(sorted((k, v) for k, v in headers.items() if k not in _NOT_STORED))


def shared_cache_headers(remaining: float, config: IsrConfig) -> dict[str, str]:
    """Headers for a body known complete and good (``hit``/``wait-hit``)."""
    ttl = max(1, math.floor(remaining))
    swr = f"stale-while-revalidate={config.revalidate}"
    out = {"cache-control": f"public, max-age=0, s-maxage={ttl}, {swr}"}
    if config.cdn_cache_control:
        stale = swr
        if config.stale_if_error:
            stale += f", stale-if-error={config.stale_if_error}"
        out["cdn-cache-control"] = f"public, max-age={ttl}, {stale}"
    return out


def cache_control(state: CacheState, remaining: float, config: IsrConfig) -> dict[str, str]:
    """A CDN keys on path + query only: a page whose key varies by a header or a cookie (or by
    the tenant) is never sent CDN-cacheable, so no reader gets another reader's variant."""
    keys = config.keys
    if keys.vary_headers or keys.vary_cookies or keys.tenant is not None:
        return {"cache-control": PRIVATE}
    if state in (CacheState.HIT, CacheState.WAIT_HIT) and remaining > 0:
        return shared_cache_headers(remaining, config)
    return {"cache-control": PRIVATE}


def cache_status(
    *,
    hit: bool = False,
    fwd: str | None = None,
    ttl: float | None = None,
    stored: bool = False,
    collapsed: bool = False,
    detail: str | None = None,
) -> str:
    """An RFC 9211 ``Cache-Status`` entry for this cache."""
    parts = [CACHE_STATUS_NAME]
    if hit:
        parts.append("hit")
    if fwd:
        parts.append(f"fwd={fwd}")
    if ttl is not None:
        parts.append(f"ttl={math.floor(ttl) if ttl >= 0 else -math.ceil(-ttl)}")
    if stored:
        parts.append("stored")
    if collapsed:
        parts.append("collapsed")
    if detail:
        parts.append(f"detail={detail}")
    return "; ".join(parts)
