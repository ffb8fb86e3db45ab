"""Publishing a rendered page: HTML object first, then the fenced metadata commit.

Runs after the response ended, so the client never waits for it. Content-addressed HTML
stores skip the write when the body did not change. A lost lease (or a newer generation
already stored) is logged and counted, never raised: the page was served, just not stored.
"""

from __future__ import annotations

from lambda_isr.errors import LeaseNotOwnedError, StaleGenerationError, StoreError
from lambda_isr.isr import policy
from lambda_isr.isr.bodycache import BodyCache
from lambda_isr.isr.lease_keeper import LeaseKeeper
from lambda_isr.isr.render import RenderStream
from lambda_isr.isr.trace import RequestTrace
from lambda_isr.store.contract import DEFAULT_CONTENT_TYPE, CacheRecord, Store


def publish(
    store: Store,
    cache_key: str,
    *,
    keeper: LeaseKeeper,
    stream: RenderStream,
    body: bytes,
    generated_at: float,
    revalidate: int,
    trace: RequestTrace,
    bodies: BodyCache,
) -> bool:
    """Store ``body`` and commit its record under the kept lease. ``True`` when committed."""
    headers = policy.stored_headers(stream.headers)
    content_type = stream.headers.get("content-type", DEFAULT_CONTENT_TYPE)
    try:
        with trace.timed("commit"):
            obj = store.html.put(
                cache_key, body, status=stream.status, content_type=content_type, headers=headers
            )
            record = CacheRecord(
                cache_key=cache_key,
                html_key=obj.key,
                generated_at=generated_at,
                revalidate_seconds=revalidate,
                etag=obj.etag,
                status=stream.status,
                content_type=content_type,
                headers=headers,
                content_hash=obj.content_hash or None,
                size=len(body),
            )
            store.meta.commit_generation(keeper.stop(), record)
    except StaleGenerationError:
        trace.log.warning("a newer generation is already stored; this one was dropped")
        trace.count("LeaseLost")
        return False
    except LeaseNotOwnedError:
        trace.log.warning("regeneration lease lost before commit; page served, not stored")
        trace.count("LeaseLost")
        return False
    except StoreError:
        trace.log.warning("storing the generation failed", exc_info=True)
        trace.count("CommitFailed")
        return False
    trace.stored = True
    bodies.put(record, body)
    bodies.remember(record)
    return True
