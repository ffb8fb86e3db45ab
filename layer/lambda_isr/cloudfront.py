"""CloudFront purge: the CDN half of an on-demand revalidation (:func:`lambda_isr.invalidate`).

When ``LAMBDA_ISR_CLOUDFRONT_DISTRIBUTION_ID`` is set (or a distribution id is passed), each
purged path becomes the invalidation path ``<normalised path>*``, so every query variant the
edge cached goes too. ``*`` also reaches longer paths: ``/posts/a*`` purges ``/posts/about``
as well (harmless for a soft purge: those pages are re-fetched once). ``/`` becomes ``/*``,
the whole distribution.

- **Batches**: at most :data:`MAX_WILDCARD_PATHS` paths per ``CreateInvalidation`` (CloudFront
  allows 15 wildcard paths in progress; a batch over the limit would be refused whole).
- **Idempotent caller reference**: ``lambda-isr-<reference>-<batch>-<hash of its paths>``.
  Retrying the same purge (same ``reference``, e.g. a queue message id) creates nothing new;
  without one, each call gets a fresh reference.
- **Never raises**: a failure (no credentials, throttling, too many invalidations in progress)
  is logged and reported in :class:`CdnPurge` (``errors``), never raised into the caller.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from lambda_isr.isr.config import TrailingSlash
from lambda_isr.isr.keys import normalise_path

__all__ = ["ENV_DISTRIBUTION", "MAX_WILDCARD_PATHS", "CdnPurge", "cdn_paths", "purge_cdn"]

ENV_DISTRIBUTION = "LAMBDA_ISR_CLOUDFRONT_DISTRIBUTION_ID"
MAX_WILDCARD_PATHS = 15
"""CloudFront's limit of wildcard invalidation paths in progress at once."""
LOG = logging.getLogger("lambda_isr.cloudfront")

_client: Any = None
_client_lock = threading.Lock()


@dataclass(frozen=True, slots=True)
class CdnPurge:
    """The outcome of a CDN purge."""

    distribution_id: str
    paths: tuple[str, ...]
    """The invalidation paths asked for (``<path>*``)."""
    invalidations: tuple[str, ...] = ()
    """Ids of the invalidations CloudFront created (or returned for a repeated reference)."""
    errors: tuple[str, ...] = ()
    """One line per batch that failed (its paths were not purged at the edge)."""

    @property
    def ok(self) -> bool:
        return not self.errors


def cdn_paths(
    paths: Iterable[str], trailing_slash: TrailingSlash = TrailingSlash.STRIP
) -> tuple[str, ...]:
    """``<normalised path>*`` for each path, de-duplicated, in order (a literal ``*`` in a
    path is percent-encoded, so only the last one is a wildcard)."""
    out: dict[str, None] = {}
    for path in paths:
        normalised = normalise_path(path, trailing_slash).replace("*", "%2A")
        out.setdefault(normalised + "*")  # "/" gives "/*": the whole distribution
    return tuple(out)


def _default_client() -> Any:
    global _client  # noqa: PLW0603 - one client per process, created on first purge
    with _client_lock:
        if _client is None:
            import boto3  # noqa: PLC0415 - only when a purge reaches the CDN

            _client = boto3.client("cloudfront")
        return _client


def _caller_reference(reference: str, index: int, batch: tuple[str, ...]) -> str:
    digest = hashlib.sha256("\n".join(batch).encode()).hexdigest()[:16]
    return f"lambda-isr-{reference}-{index}-{digest}"


def purge_cdn(
    paths: Iterable[str],
    *,
    distribution_id: str | None = None,
    client: Any = None,
    reference: str | None = None,
    trailing_slash: TrailingSlash = TrailingSlash.STRIP,
    logger: logging.Logger | None = None,
) -> CdnPurge | None:
    """Invalidate ``paths`` at the edge; ``None`` when no distribution is configured."""
    distribution = distribution_id or os.environ.get(ENV_DISTRIBUTION) or None
    if distribution is None:
        return None
    log = logger or LOG
    items = cdn_paths(paths, trailing_slash)
    if not items:
        return CdnPurge(distribution, ())
    reference = reference or uuid.uuid4().hex
    created: list[str] = []
    errors: list[str] = []
    for index, start in enumerate(range(0, len(items), MAX_WILDCARD_PATHS)):
        batch = items[start : start + MAX_WILDCARD_PATHS]
        try:
            cloudfront = client if client is not None else _default_client()
            answer = cloudfront.create_invalidation(
                DistributionId=distribution,
                InvalidationBatch={
                    "Paths": {"Quantity": len(batch), "Items": list(batch)},
                    "CallerReference": _caller_reference(reference, index, batch),
                },
            )
            created.append(str(answer["Invalidation"]["Id"]))
        except Exception as exc:  # reported, never raised: the store purge already happened
            line = f"CloudFront invalidation of {len(batch)} path(s) failed: {exc}"
            log.warning("%s (distribution %s, paths %s)", line, distribution, ", ".join(batch))
            errors.append(line)
    return CdnPurge(distribution, items, tuple(created), tuple(errors))
