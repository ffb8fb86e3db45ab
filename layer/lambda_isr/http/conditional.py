"""Conditional requests: ``If-None-Match`` against a stored ETag (RFC 9110 section 13.1.2)."""

from __future__ import annotations


def _opaque(tag: str) -> str:
    tag = tag.strip()
    return tag[2:] if tag[:2] in ("W/", "w/") else tag


def if_none_match(header: str | None, etag: str | None) -> bool:
    """True when ``header`` matches ``etag`` with the weak comparison (so the answer is 304).

    Handles lists (``"a", W/"b"``), weak tags and ``*``. A missing header or ETag never matches.
    """
    if not header or not etag:
        return False
    if header.strip() == "*":
        return True
    target = _opaque(etag)
    return any(_opaque(candidate) == target for candidate in _split(header))


def _split(header: str) -> list[str]:
    """Split an entity-tag list on commas outside quotes."""
    out: list[str] = []
    current: list[str] = []
    quoted = False
    for ch in header:
        if ch == '"':
            quoted = not quoted
        if ch == "," and not quoted:
            out.append("".join(current))
            current = []
        else:
            current.append(ch)
    out.append("".join(current))
    return [t.strip() for t in out if t.strip()]
