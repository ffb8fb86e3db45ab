"""S3 :class:`~lambda_isr.store.contract.HtmlStore`: content-addressed objects, streamed reads.

An object key is derived from the cache key and the digest of the whole representation, so an
unchanged page is never written twice: ``PutObject`` carries ``If-None-Match: *`` and a
``412``/``409`` answer means an object already exists under that key. It is checked (one HEAD;
a GET only when its ETag is not the MD5 of the bytes) and written again if it is damaged.
Status, content type and cacheable headers also travel as object metadata (``lambda-isr-*``)
for other readers.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import threading
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from lambda_isr.clock import SYSTEM_CLOCK, Clock
from lambda_isr.errors import ConfigError, InvalidKeyError, StoreUnavailableError
from lambda_isr.store import _aws
from lambda_isr.store.contract import DEFAULT_CONTENT_TYPE, HtmlStream, StoredObject
from lambda_isr.store.keys import (
    check_object_key,
    describe_object,
    etag_for,
    validate_prefix,
)

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import GetObjectOutputTypeDef

logger = logging.getLogger("lambda_isr.store")

MD_STATUS = "lambda-isr-status"
MD_CONTENT_TYPE = "lambda-isr-content-type"
MD_HEADERS = "lambda-isr-headers"
MD_DIGEST = "lambda-isr-digest"
_EXISTS = frozenset({"PreconditionFailed", "ConditionalRequestConflict"})
_MISSING = frozenset({"NoSuchKey", "404", "NotFound"})
_BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_MAX_HEADERS_METADATA = 1500  # S3 allows 2 KB of user metadata in total
DEFAULT_REFRESH_AFTER = 10 * 86_400.0
"""A reused object older than this is refreshed (copied onto itself) so that the bucket's
age-based lifecycle rule (>= 15 days, 30 by default) never deletes an object that a META item
written in the last 7 days points to. See README, "HTML object cleanup"."""
_KNOWN_FOR = 3_600.0


class S3HtmlStore:
    """Bodies in one S3 bucket under ``<prefix>/``."""

    def __init__(
        self,
        bucket: str,
        *,
        prefix: str = "isr",
        client: S3Client | None = None,
        timeout: float = _aws.DEFAULT_TIMEOUT,
        max_attempts: int = _aws.DEFAULT_MAX_ATTEMPTS,
        remember: int = 4096,
        refresh_after: float = DEFAULT_REFRESH_AFTER,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        if refresh_after <= 0:
            raise ConfigError("refresh_after must be > 0 seconds (keep it under the expiry/2)")
        if not _BUCKET_RE.fullmatch(bucket or ""):
            raise ConfigError(f"invalid S3 bucket name {bucket!r}: 3-63 of a-z 0-9 . -")
        try:
            self._prefix = validate_prefix(prefix)
        except InvalidKeyError as exc:
            raise ConfigError(str(exc)) from exc
        _aws.botocore_config(timeout, max_attempts)  # validates both
        self._bucket = bucket
        self._given_client = client
        self._timeout, self._max_attempts = timeout, max_attempts
        self._refresh_after = refresh_after
        self._clock = clock
        self._known: OrderedDict[str, float] = OrderedDict()
        self._known_lock = threading.Lock()
        self._remember = remember

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
        if self._is_known(key):
            return meta
        metadata = {MD_STATUS: str(status), MD_CONTENT_TYPE: content_type, MD_DIGEST: digest}
        encoded = json.dumps([list(h) for h in headers], separators=(",", ":"))
        if len(encoded) <= _MAX_HEADERS_METADATA:  # the META record always carries them
            metadata[MD_HEADERS] = encoded
        try:
            with _aws.boundary("write HTML object", passthrough=_EXISTS):
                self._client.put_object(
                    Bucket=self._bucket,
                    Key=key,
                    Body=body,
                    ContentType=content_type,
                    Metadata=metadata,
                    IfNoneMatch="*",
                )
        except ClientError:
            # Already stored by an earlier or concurrent writer: the same bytes, unless that
            # object is damaged (then it is replaced). It may be old.
            self._reuse(key, body, content_type, metadata)
        self._learn(key)
        return meta

    def _reuse(self, key: str, body: bytes, content_type: str, metadata: dict[str, str]) -> None:
        """Check an existing object before reusing it: one HEAD, whose ETag is the MD5 of the
        bytes for a single-part upload; only when it differs (a damaged object, or an ETag that
        is not an MD5 under SSE-KMS), one GET compares the bytes. A damaged object is written
        again; a good one older than ``refresh_after`` is copied onto itself, which resets its
        age for the lifecycle rule (a copy at most every ``refresh_after``)."""
        try:
            with _aws.boundary("check HTML object", passthrough=_MISSING):
                head = self._client.head_object(Bucket=self._bucket, Key=key)
        except ClientError:
            return  # deleted meanwhile: the next read is a miss and rewrites it
        stored_md = {k.lower(): v for k, v in head.get("Metadata", {}).items()}
        intact = stored_md.get(MD_DIGEST) == metadata[MD_DIGEST] and (
            head.get("ETag", "").strip('"') == hashlib.md5(body, usedforsecurity=False).hexdigest()
            or self._same_bytes(key, body)
        )
        if not intact:
            logger.warning("HTML object %s is damaged: replacing it", key)
            with _aws.boundary("replace damaged HTML object"):
                self._client.put_object(
                    Bucket=self._bucket,
                    Key=key,
                    Body=body,
                    ContentType=content_type,
                    Metadata=metadata,
                )
            return
        age = self._clock.now() - head["LastModified"].timestamp()
        if age <= self._refresh_after:
            return
        with _aws.boundary("refresh HTML object"):
            self._client.copy_object(
                Bucket=self._bucket,
                Key=key,
                CopySource={"Bucket": self._bucket, "Key": key},
                MetadataDirective="REPLACE",
                ContentType=content_type,
                Metadata=metadata,
            )

    def _same_bytes(self, key: str, body: bytes) -> bool:
        try:
            with _aws.boundary("verify HTML object", passthrough=_MISSING):
                found = self._client.get_object(Bucket=self._bucket, Key=key)["Body"]
                try:
                    return bool(found.read(len(body) + 1) == body)
                finally:
                    found.close()
        except ClientError:
            return False

    def open(self, key: str, chunk_size: int = 65_536) -> HtmlStream | None:
        check_object_key(key)
        try:
            with _aws.boundary("read HTML object", passthrough=_MISSING):
                response = self._client.get_object(Bucket=self._bucket, Key=key)
        except ClientError:
            self._forget(key)  # e.g. removed by a lifecycle rule: allow rewriting it
            return None
        body = response["Body"]
        meta = _stored_object(key, response)

        def chunks() -> Iterator[bytes]:
            try:
                with _aws.boundary("stream HTML object"):
                    yield from body.iter_chunks(chunk_size)
            except OSError as exc:
                raise StoreUnavailableError(f"stream HTML object failed: {exc}") from exc
            finally:
                body.close()

        return HtmlStream(meta, chunks(), body.close, lambda: self._forget(key))

    @property
    def _client(self) -> S3Client:
        """The S3 client, created on first use (5 to 15 ms of a cold start, see
        :mod:`._botocore`): a miss answers before it is needed (its body is stored after the
        response), and a hit served from the in-process body cache never needs it."""
        if self._given_client is None:
            self._given_client = _aws.shared_client(
                "s3", timeout=self._timeout, max_attempts=self._max_attempts
            )
        return self._given_client

    def _is_known(self, key: str) -> bool:
        """Written or checked by this process within the last hour (so still young)."""
        with self._known_lock:
            learned = self._known.get(key)
            if learned is not None and self._clock.now() - learned < _KNOWN_FOR:
                self._known.move_to_end(key)
                return True
            return False

    def _learn(self, key: str) -> None:
        with self._known_lock:
            self._known[key] = self._clock.now()
            self._known.move_to_end(key)
            while len(self._known) > self._remember:
                self._known.popitem(last=False)

    def _forget(self, key: str) -> None:
        with self._known_lock:
            self._known.pop(key, None)


def _stored_object(key: str, response: GetObjectOutputTypeDef) -> StoredObject:
    """Metadata from our ``lambda-isr-*`` fields, FaceTheory's, or defaults (foreign objects)."""
    md = {k.lower(): v for k, v in response.get("Metadata", {}).items()}
    status = _int(md.get(MD_STATUS) or md.get("facetheory-status"), 200)
    content_type = md.get(MD_CONTENT_TYPE) or md.get("facetheory-content-type")
    if not content_type:
        s3_type = response.get("ContentType", "")
        content_type = s3_type if s3_type and s3_type != "binary/octet-stream" else None
    headers: tuple[tuple[str, str], ...] = ()
    try:
        raw = json.loads(md.get(MD_HEADERS, "[]"))
        headers = tuple((str(n), str(v)) for n, v in raw)
    except (ValueError, TypeError):
        headers = ()
    digest = md.get(MD_DIGEST, "")
    return StoredObject(
        key=key,
        etag=etag_for(digest) if digest else response.get("ETag", '""'),
        size=response.get("ContentLength", 0),
        status=status if 100 <= status <= 599 else 200,
        content_type=content_type or DEFAULT_CONTENT_TYPE,
        headers=headers,
        content_hash=digest,
    )


def _int(text: str | None, default: int) -> int:
    try:
        return int(text) if text else default
    except ValueError:
        return default
