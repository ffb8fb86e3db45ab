"""``lambda-isr publish-assets``: upload the front end's build output to the assets bucket.

Every file under the build folder (Vite's ``outDir``) is uploaded under its path relative to
it (``assets/main-<hash>.js``: the manifest's ``file``, so the URL ``/assets/...`` reaches it
through CloudFront's ``/assets/*`` behaviour), with its content type and
``Cache-Control: public, max-age=31536000, immutable``. Hidden files and folders, among them
Vite's ``.vite/manifest.json``, are never uploaded: the manifest ships inside the function.
A file whose object already exists with the same content (its ETag is the file's MD5) is
skipped. Nothing is deleted: pages cached at the edge may still name older files.

The bucket is ``--bucket``, or the ``AssetsBucketName`` output of ``--stack``.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lambda_isr.app.assets import IMMUTABLE, content_type

__all__ = ["PublishReport", "local_files", "publish", "register"]

STACK_OUTPUT = "AssetsBucketName"


@dataclass
class PublishReport:
    """What one publish did (keys, sorted)."""

    uploaded: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)


def local_files(dist: Path) -> Iterator[tuple[str, Path]]:
    """``(key, path)`` for every file to publish, sorted by key (no hidden file or folder)."""
    found = []
    for path in dist.rglob("*"):
        relative = path.relative_to(dist)
        if path.is_file() and not any(part.startswith(".") for part in relative.parts):
            found.append((relative.as_posix(), path))
    yield from sorted(found)


def _md5(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def _existing_etags(s3: Any, bucket: str) -> dict[str, str]:
    etags: dict[str, str] = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for item in page.get("Contents", ()):
            etags[item["Key"]] = str(item.get("ETag", "")).strip('"')
    return etags


def publish(dist: Path, bucket: str, *, s3: Any = None, dry_run: bool = False) -> PublishReport:
    """Upload what changed under ``dist`` to ``bucket`` (see module docstring)."""
    if s3 is None:
        import boto3  # noqa: PLC0415 - only when publishing

        s3 = boto3.client("s3")
    existing = _existing_etags(s3, bucket)
    report = PublishReport()
    for key, path in local_files(dist):
        data = path.read_bytes()
        if existing.get(key) == _md5(data):
            report.unchanged.append(key)
            continue
        if not dry_run:
            s3.put_object(
                Bucket=bucket,
                Key=key,
                Body=data,
                ContentType=content_type(key),
                CacheControl=IMMUTABLE,
            )
        report.uploaded.append(key)
    return report


def stack_bucket(stack: str, region: str | None) -> str | None:
    """The ``AssetsBucketName`` output of CloudFormation stack ``stack`` (``None``: it has no
    assets bucket, as with ``CloudFront=Disabled``)."""
    import boto3  # noqa: PLC0415 - only when publishing

    client: Any = boto3.client("cloudformation", region_name=region)
    (found,) = client.describe_stacks(StackName=stack)["Stacks"]
    for output in found.get("Outputs", ()):
        if output.get("OutputKey") == STACK_OUTPUT:
            return str(output["OutputValue"])
    return None


def register(subparsers: Any) -> None:
    """Add ``lambda-isr publish-assets``."""
    parser = subparsers.add_parser(
        "publish-assets",
        help="upload the front end's build output to the assets bucket",
        description="Upload the built client assets (Vite's outDir) to the assets bucket with "
        "their content types and an immutable Cache-Control, skipping unchanged files and "
        "never the manifest.",
    )
    parser.add_argument(
        "--dist", type=Path, default=Path("dist"), help="the build output folder (Vite's outDir)"
    )
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--bucket", help="the assets bucket")
    where.add_argument("--stack", help=f"a stack whose {STACK_OUTPUT} output names the bucket")
    parser.add_argument("--region", default=None, help="the AWS region (None: the profile's)")
    parser.add_argument("--dry-run", action="store_true", help="list what would be uploaded")
    parser.set_defaults(func=run_publish)


def _fail(message: str, status: int) -> int:
    print(f"lambda-isr publish-assets: {message}", file=sys.stderr)
    return status


def run_publish(args: argparse.Namespace) -> int:
    dist: Path = args.dist
    if not dist.is_dir():
        return _fail(f"--dist {dist} is not a folder: build the front end first", 2)
    from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415

    try:
        bucket = args.bucket or stack_bucket(args.stack, args.region)
        if bucket is None:
            print(
                f"lambda-isr publish-assets: stack {args.stack} has no {STACK_OUTPUT} output "
                "(CloudFront=Disabled): nothing to publish",
                file=sys.stderr,
            )
            return 0
        import boto3  # noqa: PLC0415 - only when publishing

        s3 = boto3.client("s3", region_name=args.region)
        report = publish(dist, bucket, s3=s3, dry_run=args.dry_run)
    except (BotoCoreError, ClientError, OSError) as exc:
        return _fail(str(exc).splitlines()[0] if str(exc) else type(exc).__name__, 1)
    verb = "would upload" if args.dry_run else "uploaded"
    for key in report.uploaded:
        print(f"{verb} s3://{bucket}/{key}")
    print(
        f"{len(report.uploaded)} {verb}, {len(report.unchanged)} unchanged, to s3://{bucket}/ "
        f"(Cache-Control: {IMMUTABLE})"
    )
    return 0
