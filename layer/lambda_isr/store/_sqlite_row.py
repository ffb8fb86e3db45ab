"""The SQLite store's tables and its META row codec (see :mod:`lambda_isr.store.sqlite`)."""

from __future__ import annotations

import json

from lambda_isr.store.contract import CacheRecord, header_ok

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (
    pk TEXT PRIMARY KEY,
    html_key TEXT NOT NULL,
    generated_at REAL NOT NULL,
    revalidate_seconds INTEGER NOT NULL,
    etag TEXT,
    status INTEGER NOT NULL,
    content_type TEXT NOT NULL,
    headers TEXT NOT NULL,
    tags TEXT NOT NULL,
    content_hash TEXT,
    size INTEGER,
    invalidated_at REAL,
    route TEXT
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS variant (
    path_hash TEXT NOT NULL,
    pk TEXT NOT NULL,
    cache_key TEXT NOT NULL,
    host TEXT NOT NULL,
    tenant TEXT NOT NULL,
    PRIMARY KEY (path_hash, pk)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS tag (
    tag TEXT NOT NULL,
    pk TEXT NOT NULL,
    cache_key TEXT NOT NULL,
    PRIMARY KEY (tag, pk)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS lease (
    pk TEXT PRIMARY KEY,
    token TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    pass_until INTEGER
) WITHOUT ROWID;
"""
COLUMNS = (
    "html_key, generated_at, revalidate_seconds, etag, status, content_type, headers, tags,"
    " content_hash, size, invalidated_at, route"
)

PLACEHOLDERS = ", ".join("?" * 13)


def encode(r: CacheRecord) -> tuple[object, ...]:
    return (
        r.html_key,
        r.generated_at,
        r.revalidate_seconds,
        r.etag,
        r.status,
        r.content_type,
        json.dumps([list(h) for h in r.headers]),
        json.dumps(sorted(r.tags)),
        r.content_hash,
        r.size,
        None,  # a commit clears any purge
        r.route,
    )


def decode(cache_key: str, row: tuple[object, ...]) -> CacheRecord:
    (
        html_key,
        generated_at,
        revalidate,
        etag,
        status,
        ctype,
        headers,
        tags,
        digest,
        size,
        inv,
        route,
    ) = row
    if not isinstance(html_key, str) or not isinstance(generated_at, int | float):
        raise ValueError("html_key/generated_at mistyped")
    if not isinstance(revalidate, int) or not isinstance(status, int):
        raise ValueError("revalidate_seconds/status mistyped")
    if not isinstance(ctype, str) or not isinstance(headers, str) or not isinstance(tags, str):
        raise ValueError("content_type/headers/tags mistyped")
    pairs = json.loads(headers)
    tag_list = json.loads(tags)
    if not all(
        isinstance(p, list) and len(p) == 2 and all(isinstance(x, str) for x in p) for p in pairs
    ) or not all(isinstance(t, str) for t in tag_list):
        raise ValueError("headers/tags mistyped")
    if not header_ok("content-type", ctype) or not all(header_ok(n, v) for n, v in pairs):
        raise ValueError("a stored header cannot go out in a response (CR, LF, NUL)")
    return CacheRecord(
        cache_key=cache_key,
        html_key=html_key,
        generated_at=float(generated_at),
        revalidate_seconds=revalidate,
        etag=etag if isinstance(etag, str) else None,
        status=status,
        content_type=ctype,
        headers=tuple((str(n), str(v)) for n, v in pairs),
        tags=frozenset(tag_list),
        content_hash=digest if isinstance(digest, str) else None,
        size=size if isinstance(size, int) else None,
        invalidated_at=float(inv) if isinstance(inv, int | float) else None,
        route=route if isinstance(route, str) else None,
    )


class RowMemo:
    """The last decoded record per key, reused while its row is unchanged: a hit decodes
    nothing, and its record stays the same object from one hit to the next. Rows are tuples of
    str, numbers and ``None`` (compared by value); at most ``limit`` keys are held."""

    def __init__(self, limit: int = 1024) -> None:
        self._rows: dict[str, tuple[tuple[object, ...], CacheRecord]] = {}
        self._limit = limit

    def decode(self, cache_key: str, row: tuple[object, ...]) -> CacheRecord:
        held = self._rows.get(cache_key)
        if held is not None and held[0] == row:
            return held[1]
        record = decode(cache_key, row)
        if len(self._rows) >= self._limit:
            self._rows.clear()
        self._rows[cache_key] = (row, record)
        return record
