"""What a face may return, and the small fixed pages lambda-isr answers with itself."""

from __future__ import annotations

import html
from collections.abc import AsyncIterable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from http import HTTPStatus

BodyChunk = str | bytes
Body = str | bytes | Iterable[BodyChunk] | AsyncIterable[BodyChunk] | None
"""A face body: text, bytes, or a (async) iterable of either, streamed as produced."""


@dataclass(frozen=True, slots=True)
class FaceResult:
    """A full answer from a face: status, headers and cookies known before the body.

    ``headers`` values may be a string or a sequence of strings (folded with ``", "``);
    ``Set-Cookie`` belongs in ``cookies``. A response with cookies is never cached.
    """

    status: int = 200
    headers: Mapping[str, str | Sequence[str]] = field(default_factory=dict)
    cookies: Sequence[str] = ()
    body: Body = None
    tags: Sequence[str] = ()
    """Cache tags of this render (beside the route's ``tags=``), for
    :func:`lambda_isr.invalidate_tags`: visible ASCII, no commas, at most 256 characters each,
    at most 50 per page (CloudFront's cache-tag limits)."""


def default_footer(request_id: str) -> str:
    """The in-band marker appended when a streamed render fails after its first byte (plus a
    visible banner when ``LAMBDA_ISR_ERROR_BANNER`` is set, as ``lambda-isr dev`` does)."""
    from lambda_isr.error_banner import error_footer  # noqa: PLC0415 - late failures only

    return error_footer(request_id)


def error_page(status: int, request_id: str) -> bytes:
    """A minimal HTML error page naming the request id and nothing else."""
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Error"
    rid = html.escape(request_id, quote=True)
    text = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{status} {phrase}</title></head><body><h1>{phrase}</h1>"
        f"<p>Request ID: <code>{rid}</code></p></body></html>"
    )
    return text.encode("utf-8")
