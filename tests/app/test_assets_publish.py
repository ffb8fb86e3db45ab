"""``lambda-isr publish-assets`` against moto's S3: content types, the immutable Cache-Control,
unchanged files skipped, the manifest never uploaded."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import boto3
import pytest

from lambda_isr import cli
from lambda_isr.app.assets import IMMUTABLE
from lambda_isr.assets_cli import local_files, publish
from tests.app.assets_support import ensure_frontend
from tests.conftest import S3Bucket


def object_keys(bucket: S3Bucket) -> list[str]:
    listed = bucket.client.list_objects_v2(Bucket=bucket.name)
    return sorted(item["Key"] for item in listed.get("Contents", []))


@pytest.fixture
def dist(tmp_path: Path) -> Path:
    """A copy of the demo's real build output."""
    return Path(shutil.copytree(ensure_frontend(), tmp_path / "dist"))


def test_publish_uploads_the_built_files_never_the_manifest(
    dist: Path, moto_s3_bucket: S3Bucket
) -> None:
    manifest = json.loads((dist / ".vite" / "manifest.json").read_text())
    files = {c["file"] for c in manifest.values()} | {
        css for c in manifest.values() for css in c.get("css", [])
    }
    report = publish(dist, moto_s3_bucket.name, s3=moto_s3_bucket.client)
    assert sorted(report.uploaded) == sorted(files) == object_keys(moto_s3_bucket)
    assert report.unchanged == []
    assert not any(key.startswith(".vite") or "manifest" in key for key in report.uploaded)
    for key in files:
        head = moto_s3_bucket.client.head_object(Bucket=moto_s3_bucket.name, Key=key)
        assert head["CacheControl"] == IMMUTABLE
        kind = "text/css" if key.endswith(".css") else "text/javascript"
        assert head["ContentType"] == f"{kind}; charset=utf-8"
        body = moto_s3_bucket.client.get_object(Bucket=moto_s3_bucket.name, Key=key)["Body"]
        assert body.read() == (dist / key).read_bytes()


def test_unchanged_files_are_skipped_and_changed_ones_uploaded(
    dist: Path, moto_s3_bucket: S3Bucket
) -> None:
    publish(dist, moto_s3_bucket.name, s3=moto_s3_bucket.client)
    again = publish(dist, moto_s3_bucket.name, s3=moto_s3_bucket.client)
    assert again.uploaded == []
    assert len(again.unchanged) == len(object_keys(moto_s3_bucket))
    key, path = next(iter(local_files(dist)))
    path.write_bytes(path.read_bytes() + b"\n/* changed */\n")
    (dist / "assets" / "new-123.woff2").write_bytes(b"font")
    third = publish(dist, moto_s3_bucket.name, s3=moto_s3_bucket.client)
    assert sorted(third.uploaded) == sorted([key, "assets/new-123.woff2"])
    head = moto_s3_bucket.client.head_object(Bucket=moto_s3_bucket.name, Key="assets/new-123.woff2")
    assert head["ContentType"] == "font/woff2"


def test_hidden_files_are_never_published(tmp_path: Path) -> None:
    (tmp_path / ".vite").mkdir()
    (tmp_path / ".vite" / "manifest.json").write_text("{}")
    (tmp_path / "assets" / ".cache").mkdir(parents=True)
    (tmp_path / "assets" / ".cache" / "x.js").write_text("")
    (tmp_path / "assets" / ".DS_Store").write_text("")
    (tmp_path / "assets" / "a.js").write_text("")
    (tmp_path / "robots.txt").write_text("")
    assert [key for key, _ in local_files(tmp_path)] == ["assets/a.js", "robots.txt"]


def test_the_command_line(
    dist: Path, moto_s3_bucket: S3Bucket, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["publish-assets", "--dist", str(dist), "--bucket", moto_s3_bucket.name]
    assert cli.main([*args, "--dry-run"]) == 0
    assert object_keys(moto_s3_bucket) == []
    assert "would upload s3://" in capsys.readouterr().out
    assert cli.main(args) == 0
    out = capsys.readouterr().out
    assert f"{len(object_keys(moto_s3_bucket))} uploaded, 0 unchanged" in out
    assert cli.main(args) == 0
    assert "0 uploaded" in capsys.readouterr().out


def test_the_bucket_from_a_stack_output(
    dist: Path, moto_aws: None, capsys: pytest.CaptureFixture[str]
) -> None:
    cloudformation: Any = boto3.client("cloudformation", region_name="us-east-1")
    template = {
        "Resources": {"Assets": {"Type": "AWS::S3::Bucket"}},
        "Outputs": {"AssetsBucketName": {"Value": {"Ref": "Assets"}}},
    }
    cloudformation.create_stack(StackName="site", TemplateBody=json.dumps(template))
    bare = {"Resources": {"Other": {"Type": "AWS::S3::Bucket"}}}
    cloudformation.create_stack(StackName="bare", TemplateBody=json.dumps(bare))
    assert cli.main(["publish-assets", "--dist", str(dist), "--stack", "site"]) == 0
    assert "uploaded, 0 unchanged, to s3://site-" in capsys.readouterr().out
    assert cli.main(["publish-assets", "--dist", str(dist), "--stack", "bare"]) == 0
    assert "nothing to publish" in capsys.readouterr().err


def test_errors_are_one_line(
    tmp_path: Path, moto_aws: None, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nope"
    assert cli.main(["publish-assets", "--dist", str(missing), "--bucket", "b"]) == 2
    assert "is not a folder: build the front end first" in capsys.readouterr().err
    (tmp_path / "d").mkdir()
    assert cli.main(["publish-assets", "--dist", str(tmp_path / "d"), "--bucket", "gone"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("lambda-isr publish-assets: ")
    assert "NoSuchBucket" in err
    assert err.count("\n") == 1
    with pytest.raises(SystemExit) as usage:
        cli.main(["publish-assets", "--dist", str(tmp_path)])  # neither --bucket nor --stack
    assert usage.value.code == 2
