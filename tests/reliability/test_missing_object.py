"""An HTML object lost behind a META pointer (lifecycle rule, manual delete, other region):
the next request regenerates and re-commits; nothing crashes, nothing empty is served."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from lambda_isr.store.contract import HtmlStore
from lambda_isr.store.files import FileHtmlStore
from lambda_isr.store.memory import MemoryHtmlStore
from lambda_isr.store.s3 import S3HtmlStore
from tests.conftest import S3Bucket
from tests.reliability.support import Rig, assert_clean, make_rig, page

pytestmark = pytest.mark.timeout(60)

Deleter = Callable[[str], None]


@pytest.fixture(params=["memory", "files", "s3"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[HtmlStore, Deleter]]:
    if request.param == "memory":
        memory = MemoryHtmlStore()
        yield memory, memory.delete
    elif request.param == "files":
        files = FileHtmlStore(tmp_path / "html", fsync=False)
        yield files, lambda key: files.path_for(key).unlink()
    else:
        bucket: S3Bucket = request.getfixturevalue("moto_s3_bucket")
        s3 = S3HtmlStore(bucket.name, client=bucket.client)

        def delete(key: str) -> None:
            bucket.client.delete_object(Bucket=bucket.name, Key=key)

        yield s3, delete


def _rig(html: HtmlStore) -> Rig:
    return make_rig(html_backend=html)


@pytest.mark.parametrize("stale", [False, True], ids=["fresh-record", "stale-record"])
@pytest.mark.parametrize("streamed", [False, True], ids=["buffered", "streamed"])
def test_missing_object_behind_a_pointer_is_regenerated(
    backend: tuple[HtmlStore, Deleter], stale: bool, streamed: bool
) -> None:
    html, delete = backend
    rig = _rig(html)
    assert rig.get()["body"].encode() == page("/p", 1)
    record = rig.meta.get(rig.key())
    assert record is not None
    delete(record.html_key)
    assert html.open(record.html_key) is None
    if stale:
        rig.clock.advance(61)
    if streamed:
        w = rig.stream()
        status, state, body = w.status, w.headers["x-isr-cache"], w.body
        assert w.error is None
    else:
        r = rig.get()
        assert_clean(r)
        status, state, body = r["statusCode"], r["headers"]["x-isr-cache"], r["body"].encode()
    assert (status, state) == (200, "miss")
    assert body == page("/p", 2)
    again = rig.meta.get(rig.key())
    assert again is not None
    assert again.generated_at >= record.generated_at
    opened = html.open(again.html_key)
    assert opened is not None
    assert opened.read_all() == page("/p", 2)
    hit = rig.get()
    assert (hit["headers"]["x-isr-cache"], hit["body"].encode()) == ("hit", page("/p", 2))
    assert rig.pages.renders == 2


def test_missing_object_while_the_lease_store_is_down_is_a_clean_uncached_render(
    backend: tuple[HtmlStore, Deleter],
) -> None:
    html, delete = backend
    rig = _rig(html)
    rig.get()
    record = rig.meta.get(rig.key())
    assert record is not None
    delete(record.html_key)
    rig.plan.fail("try_acquire_lease")
    r = rig.get()
    assert_clean(r)
    assert (r["statusCode"], r["headers"]["x-isr-cache"]) == (200, "bypass")
    assert r["body"].encode() == page("/p", 2)


def test_missing_object_while_metadata_is_down_is_a_clean_503(
    backend: tuple[HtmlStore, Deleter],
) -> None:
    html, delete = backend
    rig = _rig(html)
    rig.get()  # this process remembers the record...
    record = rig.meta.get(rig.key())
    assert record is not None
    delete(record.html_key)  # ...but its body is gone
    rig.plan.fail("get")
    r = rig.get()
    assert_clean(r)
    assert r["statusCode"] == 503
    assert r["headers"]["retry-after"] == "5"
