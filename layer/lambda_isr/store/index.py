"""The purge indexes: which cache keys are variants of one path, and which carry one tag.

A cache key is ``<tenant>::<host><path>?<query>#<varied headers and cookies>``
(:mod:`lambda_isr.isr.keys`). Every variant of a page (query, header, cookie, host and tenant
variants) shares its path, so the **variant index** maps a path to the keys committed under
it, with their host and tenant parts so a purge can narrow to one host or tenant. The **tag
index** maps a tag to the keys whose last generation carried it. Both are written with the
commit, only when they change, and a purge reads them (one query per path or tag) and then
soft-purges each entry (one write each): no scan, whatever the number of variants.

Tags are limited to what CloudFront accepts as cache tags, so the same tags can reach the CDN:
visible ASCII, no comma, at most :data:`MAX_TAG_LENGTH` characters, at most
:data:`MAX_TAGS_PER_PAGE` per page.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from lambda_isr.errors import ConfigError

MAX_TAG_LENGTH = 256
MAX_TAGS_PER_PAGE = 50


@dataclass(frozen=True, slots=True)
class KeyParts:
    """The parts of a cache key a purge selects by (``tenant`` as keyed: ``default`` for none)."""

    tenant: str
    host: str
    path: str


def key_parts(cache_key: str) -> KeyParts | None:
    """The tenant, host and path of a cache key; ``None`` for a custom key function's key
    (``<tenant>::<host>::<value>``), which has no path to purge by."""
    tenant, sep, rest = cache_key.partition("::")
    if not sep:
        return None
    slash = rest.find("/")
    if slash < 0 or "::" in rest[:slash] or rest.startswith("::"):
        return None
    host, tail = rest[:slash], rest[slash:]
    cut = min((i for i in (tail.find("?"), tail.find("#")) if i >= 0), default=len(tail))
    return KeyParts(tenant, host, tail[:cut])


def matches(parts: KeyParts, *, host: str | None, tenant: str | None) -> bool:
    """Whether a variant is selected by a purge narrowed to ``host`` / ``tenant`` (``None``:
    every host / every tenant)."""
    return (host is None or parts.host == host) and (tenant is None or parts.tenant == tenant)


def check_tags(tags: Iterable[object], *, where: str) -> frozenset[str]:
    """The tags as a set; :class:`ConfigError` naming ``where`` (the face) for a tag CloudFront
    would refuse, or for more than :data:`MAX_TAGS_PER_PAGE`."""
    if isinstance(tags, str | bytes):
        raise ConfigError(f"{where}: tags must be a list of strings, not one string")
    found: set[str] = set()
    for tag in tags:
        if not isinstance(tag, str):
            raise ConfigError(f"{where}: tag {tag!r} is not a string")
        if not tag or len(tag) > MAX_TAG_LENGTH:
            raise ConfigError(f"{where}: tag {tag[:40]!r} must be 1-{MAX_TAG_LENGTH} characters")
        if not all("!" <= c <= "~" for c in tag) or "," in tag:
            raise ConfigError(
                f"{where}: tag {tag[:40]!r} must be visible ASCII without commas or spaces"
            )
        found.add(tag)
    if len(found) > MAX_TAGS_PER_PAGE:
        raise ConfigError(f"{where}: {len(found)} tags, at most {MAX_TAGS_PER_PAGE} per page")
    return frozenset(found)


@runtime_checkable
class PurgeIndex(Protocol):
    """A meta store that keeps the purge indexes (every lambda-isr backend does)."""

    def invalidate_path(
        self, path: str, *, host: str | None = None, tenant: str | None = None
    ) -> list[str]:
        """Soft-purge every variant of the normalised ``path`` (narrowed to the keyed ``host``,
        ``""`` for unvaried hosts, and the keyed ``tenant`` part; ``None``: all). Returns the
        cache keys of the entries now purged."""
        ...

    def invalidate_tag(self, tag: str) -> list[str]:
        """Soft-purge every entry whose last generation carried ``tag``; their cache keys."""
        ...
