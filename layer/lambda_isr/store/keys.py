"""Key derivation shared by every backend: partition keys, object keys, content digests."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

from lambda_isr.errors import InvalidKeyError
from lambda_isr.store.contract import StoredObject

META_SK = "META"
LOCK_SK = "LOCK"
_PREFIX_RE = re.compile(r"^[A-Za-z0-9!_.*'()-]+(/[A-Za-z0-9!_.*'()-]+)*$")
_OBJECT_KEY_RE = re.compile(r"^[A-Za-z0-9!_.*'()=+,@-]+(/[A-Za-z0-9!_.*'()=+,@-]+)*$")


def cache_key_hash(cache_key: str) -> str:
    """sha256 hex of the cache key (any length, any characters)."""
    return hashlib.sha256(cache_key.encode("utf-8", "surrogatepass")).hexdigest()


def partition_key(cache_key: str, *, tenant: str | None = None, raw: bool = False) -> str:
    """``CACHE#<sha256>`` (default), ``TENANT#<t>#CACHE#<sha256>``, or TS's raw ``CACHE#<key>``."""
    body = cache_key if raw else cache_key_hash(cache_key)
    if tenant:
        return f"TENANT#{tenant}#CACHE#{body}"
    return f"CACHE#{body}"


def content_hasher(
    *, status: int, content_type: str, headers: Sequence[tuple[str, str]]
) -> hashlib._Hash:
    """A sha256 fed with the head of a representation: feed it the body, chunk by chunk, for
    :func:`content_digest` without holding the whole body."""
    h = hashlib.sha256()
    h.update(f"{status}\n{content_type}\n".encode())
    for name, value in headers:
        h.update(f"{name.lower()}:{value}\n".encode())
    h.update(b"\n")
    return h


def content_digest(
    body: bytes, *, status: int, content_type: str, headers: Sequence[tuple[str, str]]
) -> str:
    """sha256 hex over the whole stored representation (status, type, headers, body)."""
    h = content_hasher(status=status, content_type=content_type, headers=headers)
    h.update(body)
    return h.hexdigest()


def etag_for(digest: str) -> str:
    """A strong HTTP ETag from a content digest."""
    return f'"{digest[:32]}"'


def validate_prefix(prefix: str) -> str:
    prefix = prefix.strip("/")
    if not prefix or not _PREFIX_RE.fullmatch(prefix) or ".." in prefix.split("/"):
        raise InvalidKeyError(
            f"invalid object key prefix {prefix!r}: use letters, digits and - _ . / (no '..')"
        )
    return prefix


def html_object_key(prefix: str, cache_key: str, digest: str) -> str:
    """``<prefix>/<first 32 hex of sha256(cache key)>/<content digest>.html``."""
    return f"{validate_prefix(prefix)}/{cache_key_hash(cache_key)[:32]}/{digest}.html"


def check_object_key(key: str) -> str:
    """Reject pointers that could escape the store's namespace.

    Accepts any relative key of safe characters (other writers, e.g. FaceTheory's
    ``isr/<hash>/<ms>-<uuid>.html``, are readable) but no ``..``/``.`` segment, no leading or
    doubled slash, no backslash, NUL or control character.
    """
    parts = key.split("/")
    if len(key) > 1024 or not _OBJECT_KEY_RE.fullmatch(key) or any(p in (".", "..") for p in parts):
        raise InvalidKeyError(f"not an HTML object key: {key[:200]!r}")
    return key


def describe_object(
    prefix: str,
    cache_key: str,
    body: bytes,
    *,
    status: int,
    content_type: str,
    headers: Sequence[tuple[str, str]],
) -> StoredObject:
    """What every HTML store stores for ``body``: its content-addressed key, etag and metadata."""
    digest = content_digest(body, status=status, content_type=content_type, headers=headers)
    key = html_object_key(prefix, cache_key, digest)
    return StoredObject(
        key, etag_for(digest), len(body), status, content_type, tuple(headers), digest
    )
