"""The SQLite store's purge indexes (tables ``variant`` and ``tag``; see :mod:`.index`).

Written inside the commit's transaction, only when they change (a first commit of a key writes
its variant row; a commit whose tags differ from the stored record's rewrites only the tags that
differ). A purge is one ``UPDATE`` over the indexed rows: ``invalidated_at`` moves forward only
(:func:`lambda_isr.store.rules.purged_at`)."""

from __future__ import annotations

import json
import sqlite3

from lambda_isr.store.index import key_parts
from lambda_isr.store.keys import cache_key_hash


def stored_tags(raw: object) -> frozenset[str]:
    """The tags column of a stored row (unreadable: none)."""
    try:
        found = json.loads(raw) if isinstance(raw, str) else []
    except ValueError:
        return frozenset()
    return (
        frozenset(t for t in found if isinstance(t, str))
        if isinstance(found, list)
        else frozenset()
    )


def write_index(
    conn: sqlite3.Connection,
    cache_key: str,
    *,
    existed: bool,
    old_tags: frozenset[str],
    tags: frozenset[str],
) -> None:
    pk = cache_key_hash(cache_key)
    parts = key_parts(cache_key)
    if not existed and parts is not None:
        conn.execute(
            "INSERT OR REPLACE INTO variant (path_hash, pk, cache_key, host, tenant)"
            " VALUES (?, ?, ?, ?, ?)",
            (cache_key_hash(parts.path), pk, cache_key, parts.host, parts.tenant),
        )
    for tag in old_tags - tags:
        conn.execute("DELETE FROM tag WHERE tag = ? AND pk = ?", (tag, pk))
    for tag in tags - old_tags:
        conn.execute(
            "INSERT OR REPLACE INTO tag (tag, pk, cache_key) VALUES (?, ?, ?)", (tag, pk, cache_key)
        )


def _purge(conn: sqlite3.Connection, selected: str, params: dict[str, object]) -> list[str]:
    """Soft-purge the META rows of the index rows ``selected`` picks; their cache keys."""
    keys = [
        str(row[0])
        for row in conn.execute(
            f"SELECT i.cache_key FROM ({selected}) AS i JOIN meta ON meta.pk = i.pk",  # noqa: S608
            params,
        )
    ]
    where = f" WHERE pk IN (SELECT pk FROM ({selected}))"  # noqa: S608 - constant queries
    update = "UPDATE meta SET invalidated_at = MAX(COALESCE(invalidated_at, :now), :now)" + where  # noqa: S608
    conn.execute(update, params)
    return keys


def purge_path(
    conn: sqlite3.Connection, path: str, *, host: str | None, tenant: str | None, now: float
) -> list[str]:
    return _purge(
        conn,
        "SELECT pk, cache_key FROM variant WHERE path_hash = :path"
        " AND (:host IS NULL OR host = :host) AND (:tenant IS NULL OR tenant = :tenant)",
        {"now": now, "path": cache_key_hash(path), "host": host, "tenant": tenant},
    )


def purge_tag(conn: sqlite3.Connection, tag: str, *, now: float) -> list[str]:
    return _purge(conn, "SELECT pk, cache_key FROM tag WHERE tag = :tag", {"now": now, "tag": tag})
