"""Directory-backed :class:`~lambda_isr.store.contract.HtmlStore` for local development.

Each body is one content-addressed file ``<root>/<object key>``: a one-line JSON header
(status, content type, headers, digest) after a magic prefix, then the body bytes. Writes go
to a temporary file in the same directory and are published with ``os.replace`` (atomic), so
readers in other processes never see a partial file. An existing file is reused only when it
holds exactly the same header and bytes; a damaged one is replaced.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import BinaryIO

from lambda_isr.errors import ConfigError, InvalidKeyError, StoreUnavailableError
from lambda_isr.store.contract import DEFAULT_CONTENT_TYPE, HtmlStream, StoredObject
from lambda_isr.store.keys import (
    cache_key_hash,
    check_object_key,
    describe_object,
    etag_for,
    validate_prefix,
)

logger = logging.getLogger("lambda_isr.store")

MAGIC = b"lambda-isr/1 "
_MAX_HEADER = 64 * 1024


class FileHtmlStore:
    """Bodies as files under ``root``; keys are validated and must stay inside ``root``."""

    def __init__(
        self, root: str | os.PathLike[str], *, prefix: str = "isr", fsync: bool = True
    ) -> None:
        try:
            self._prefix = validate_prefix(prefix)
        except InvalidKeyError as exc:
            raise ConfigError(str(exc)) from exc
        try:
            Path(root).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"cannot create HTML store directory {root}: {exc}") from exc
        self._root = Path(root).resolve()
        self._fsync = fsync

    @property
    def root(self) -> Path:
        return self._root

    def path_for(self, key: str) -> Path:
        """The file behind ``key``; raises ``InvalidKeyError`` for keys escaping the root."""
        check_object_key(key)
        path = (self._root / key).resolve()
        if path == self._root or not path.is_relative_to(self._root):
            raise InvalidKeyError(f"object key escapes the store root: {key[:200]!r}")
        return path

    def put(
        self,
        cache_key: str,
        body: bytes,
        *,
        status: int = 200,
        content_type: str = DEFAULT_CONTENT_TYPE,
        headers: Sequence[tuple[str, str]] = (),
    ) -> StoredObject:
        meta = describe_object(
            self._prefix, cache_key, body, status=status, content_type=content_type, headers=headers
        )
        key, digest = meta.key, meta.content_hash
        path = self.path_for(key)
        if path.is_file() and _holds(path, meta, body):
            return meta  # content-addressed: the same bytes are already there
        header = json.dumps(
            {"status": status, "content_type": content_type, "headers": headers, "digest": digest},
            separators=(",", ":"),
        ).encode()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".part")
            try:
                with os.fdopen(fd, "wb") as out:
                    out.write(MAGIC + header + b"\n")
                    out.write(body)
                    if self._fsync:
                        out.flush()
                        os.fsync(out.fileno())
                os.replace(tmp, path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        except OSError as exc:
            raise StoreUnavailableError(f"cannot write {path}: {exc}") from exc
        return meta

    def open(self, key: str, chunk_size: int = 65_536) -> HtmlStream | None:
        path = self.path_for(key)
        try:
            f = path.open("rb")
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            return None
        except OSError as exc:
            raise StoreUnavailableError(f"cannot read {path}: {exc}") from exc
        try:
            meta = _read_header(f, key, os.fstat(f.fileno()))
        except (OSError, ValueError, TypeError) as exc:
            f.close()
            logger.warning("unreadable HTML object %s ignored: %s", key, exc)
            return None
        return HtmlStream(meta, _chunks(f, chunk_size), f.close)


def _holds(path: Path, meta: StoredObject, body: bytes) -> bool:
    """Whether the file at ``path`` is exactly what ``put`` would write (a truncated, flipped
    or foreign file is replaced: a regeneration repairs a damaged object)."""
    try:
        with path.open("rb") as f:
            found = _read_header(f, meta.key, os.fstat(f.fileno()))
            same = found == meta and f.read(len(body) + 1) == body
    except (OSError, ValueError, TypeError, KeyError):
        same = False
    if not same:
        logger.warning("HTML object %s is damaged: replacing it", meta.key)
    return same


def _read_header(f: BinaryIO, key: str, st: os.stat_result) -> StoredObject:
    """Parse the header line; a file without one is a plain body with default metadata."""
    file_size = st.st_size
    if f.read(len(MAGIC)) != MAGIC:
        f.seek(0)
        return StoredObject(key, etag_for(cache_key_hash(f"{key}:{st.st_mtime_ns}")), file_size)
    line = f.readline(_MAX_HEADER)
    if not line.endswith(b"\n"):
        raise ValueError("header line too long or truncated")
    fields = json.loads(line)
    status, ctype, headers, digest = (
        fields["status"],
        fields["content_type"],
        fields["headers"],
        fields["digest"],
    )
    if not (isinstance(status, int) and isinstance(ctype, str) and isinstance(digest, str)):
        raise ValueError("header fields mistyped")
    pairs = tuple((str(n), str(v)) for n, v in headers)
    size = file_size - len(MAGIC) - len(line)
    return StoredObject(key, etag_for(digest), size, status, ctype, pairs, digest)


def _chunks(f: BinaryIO, chunk_size: int) -> Iterator[bytes]:
    try:
        while chunk := f.read(chunk_size):
            yield chunk
    except OSError as exc:
        raise StoreUnavailableError(f"reading HTML object failed: {exc}") from exc
    finally:
        f.close()
