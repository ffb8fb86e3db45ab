"""S3 backend specifics: conditional puts, object metadata, foreign objects, errors."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from botocore.stub import Stubber

from lambda_isr.errors import ConfigError, StoreUnavailableError
from lambda_isr.store.s3 import S3HtmlStore
from lambda_isr.testing import FakeClock
from tests.conftest import S3Bucket

KEY = "default::/p"


def test_metadata_is_on_the_object(moto_s3_bucket: S3Bucket) -> None:
    store = S3HtmlStore(moto_s3_bucket.name, client=moto_s3_bucket.client, prefix="site/isr")
    stored = store.put(KEY, b"<p>x</p>", status=404, headers=(("cache-control", "public"),))
    assert stored.key.startswith("site/isr/")
    head = moto_s3_bucket.client.head_object(Bucket=moto_s3_bucket.name, Key=stored.key)
    assert head["ContentType"] == "text/html; charset=utf-8"
    assert head["Metadata"]["lambda-isr-status"] == "404"
    assert head["Metadata"]["lambda-isr-content-type"] == "text/html; charset=utf-8"
    assert head["Metadata"]["lambda-isr-digest"] == stored.content_hash
    assert json.loads(head["Metadata"]["lambda-isr-headers"]) == [["cache-control", "public"]]


def test_second_writer_gets_412_and_the_object_is_untouched(moto_s3_bucket: S3Bucket) -> None:
    c, bucket = moto_s3_bucket.client, moto_s3_bucket.name
    codes: list[int] = []
    c.meta.events.register(
        "after-call.s3.PutObject",
        lambda http_response, **_: codes.append(http_response.status_code),
    )
    first = S3HtmlStore(bucket, client=c).put(KEY, b"same")
    before = c.head_object(Bucket=bucket, Key=first.key)
    second = S3HtmlStore(bucket, client=c).put(KEY, b"same")  # no local memory of the key
    assert second == first
    assert codes == [200, 412]
    after = c.head_object(Bucket=bucket, Key=first.key)
    assert after["LastModified"] == before["LastModified"]
    assert after["ETag"] == before["ETag"]


def test_foreign_objects_read_with_defaults(moto_s3_bucket: S3Bucket) -> None:
    c, bucket = moto_s3_bucket.client, moto_s3_bucket.name
    ts_key = "isr/0123456789abcdef01234567/1700000000123-6f1c3e0a.html"
    c.put_object(
        Bucket=bucket,
        Key=ts_key,
        Body=b"<p>ts</p>",
        ContentType="text/html",
        Metadata={"facetheory-status": "404", "facetheory-content-type": "text/html"},
    )
    c.put_object(Bucket=bucket, Key="isr/plain.html", Body=b"<p>plain</p>")
    store = S3HtmlStore(bucket, client=c)
    ts = store.open(ts_key)
    assert ts is not None
    assert (ts.meta.status, ts.meta.content_type, ts.meta.size) == (404, "text/html", 9)
    assert ts.meta.etag.startswith('"')
    assert ts.read_all() == b"<p>ts</p>"
    plain = store.open("isr/plain.html")
    assert plain is not None
    assert (plain.meta.status, plain.meta.content_type) == (200, "text/html; charset=utf-8")
    assert plain.read_all() == b"<p>plain</p>"


def test_deleted_object_can_be_written_again(moto_s3_bucket: S3Bucket) -> None:
    c, bucket = moto_s3_bucket.client, moto_s3_bucket.name
    store = S3HtmlStore(bucket, client=c)
    stored = store.put(KEY, b"body")
    c.delete_object(Bucket=bucket, Key=stored.key)  # e.g. a lifecycle rule
    assert store.open(stored.key) is None
    store.put(KEY, b"body")
    again = store.open(stored.key)
    assert again is not None
    assert again.read_all() == b"body"


@pytest.mark.parametrize(
    ("code", "status"), [("SlowDown", 503), ("InternalError", 500), ("AccessDenied", 403)]
)
def test_errors_become_unavailable(moto_s3_bucket: S3Bucket, code: str, status: int) -> None:
    c = moto_s3_bucket.client
    store = S3HtmlStore(moto_s3_bucket.name, client=c)
    with Stubber(c) as stub:
        stub.add_client_error("put_object", service_error_code=code, http_status_code=status)
        with pytest.raises(StoreUnavailableError, match=code):
            store.put(KEY, b"x")
        stub.add_client_error("get_object", service_error_code=code, http_status_code=status)
        with pytest.raises(StoreUnavailableError, match=code):
            store.open("isr/a/b.html")


def test_bad_config(moto_s3_bucket: S3Bucket) -> None:
    client: Any = moto_s3_bucket.client
    with pytest.raises(ConfigError, match="bucket"):
        S3HtmlStore("No_Such Bucket", client=client)
    with pytest.raises(ConfigError, match="prefix"):
        S3HtmlStore("bucket", client=client, prefix="../x")


def _count_calls(client: Any, operation: str) -> list[str]:
    calls: list[str] = []
    client.meta.events.register(
        f"before-call.s3.{operation}", lambda params, **_: calls.append(params["url_path"])
    )
    return calls


def test_reused_young_object_is_not_refreshed(moto_s3_bucket: S3Bucket) -> None:
    c, bucket = moto_s3_bucket.client, moto_s3_bucket.name
    S3HtmlStore(bucket, client=c).put(KEY, b"same")
    copies = _count_calls(c, "CopyObject")
    S3HtmlStore(bucket, client=c).put(KEY, b"same")
    assert copies == []


def test_reused_old_object_is_refreshed_before_the_lifecycle_rule_can_expire_it(
    moto_s3_bucket: S3Bucket,
) -> None:
    """The cleanup rule (template.yaml) expires objects by age; a content-addressed object that
    a new META points to must look young again, with its metadata intact."""
    c, bucket = moto_s3_bucket.client, moto_s3_bucket.name
    first = S3HtmlStore(bucket, client=c).put(KEY, b"same", status=404)
    before = c.head_object(Bucket=bucket, Key=first.key)
    eleven_days_later = FakeClock(start=time.time() + 11 * 86_400)
    copies = _count_calls(c, "CopyObject")
    later = S3HtmlStore(bucket, client=c, clock=eleven_days_later)
    time.sleep(1.1)  # S3 LastModified has one-second resolution
    assert later.put(KEY, b"same", status=404) == first
    assert len(copies) == 1
    after = c.head_object(Bucket=bucket, Key=first.key)
    assert after["LastModified"] > before["LastModified"]
    assert after["Metadata"] == before["Metadata"]
    assert after["ContentType"] == before["ContentType"]
    opened = later.open(first.key)
    assert opened is not None
    assert opened.read_all() == b"same"
    # within the process's memory window the object is not checked again
    later.put(KEY, b"same", status=404)
    assert len(copies) == 1
