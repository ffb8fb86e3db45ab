"""Keys and pointers cannot escape: cache-key paths stay canonical and rooted, object keys
stay inside their namespace, and a META record pointing outside the HTML store is a miss."""

from __future__ import annotations

import os
import posixpath
import string
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lambda_isr.errors import InvalidEventError, InvalidKeyError
from lambda_isr.http.request import parse_event
from lambda_isr.isr.config import TrailingSlash
from lambda_isr.isr.keys import normalise_path
from lambda_isr.store.contract import CacheRecord, HtmlStore, Lease
from lambda_isr.store.files import FileHtmlStore
from lambda_isr.store.keys import check_object_key, html_object_key
from lambda_isr.store.memory import MemoryHtmlStore
from lambda_isr.store.s3 import S3HtmlStore
from lambda_isr.testing import FakeClock
from tests.conftest import S3Bucket
from tests.reliability.support import Rig, make_rig, page

pytestmark = pytest.mark.timeout(60)

SECRET = b"root:x:0:0:SECRET-OUTSIDE-THE-STORE\n"
_UNRESERVED = set(string.ascii_letters + string.digits + "!$&'()*+,;=:@-._~%/")

path_chars = st.sampled_from([*"/.%2eE5cCfF\\aé~:;?#", "%2e", "%2E", "%2f", "%2F", ".."])
hostile_paths = st.lists(path_chars, max_size=30).map(lambda parts: "/" + "".join(parts))


@settings(max_examples=600, deadline=None)
@given(hostile_paths | st.text(st.characters(blacklist_categories=["Cs"]), max_size=40))
def test_cache_key_paths_are_rooted_canonical_and_never_climb(raw: str) -> None:
    for trailing in TrailingSlash:
        try:
            path = normalise_path(raw, trailing)
        except InvalidEventError:
            return  # undecodable escapes are a 400
        assert path.startswith("/")
        assert "//" not in path
        segments = path.strip("/").split("/") if path != "/" else []
        assert "." not in segments
        assert ".." not in segments
        assert set(path) <= _UNRESERVED, path  # no raw control, space, backslash or non-ASCII
        assert normalise_path(path, trailing) == path  # idempotent: one spelling, one key
        assert posixpath.normpath(path) == path.rstrip("/") or path == "/"


@pytest.mark.parametrize(
    "raw",
    [
        "/../../etc/passwd",
        "/%2e%2e/%2e%2e/etc/passwd",
        "/%2E%2E/%2e%2E/etc/passwd",
        "/a/b/../../../../etc/passwd",
        "//etc/passwd",
        "/./etc/./passwd",
    ],
)
def test_traversal_spellings_are_one_page(raw: str) -> None:
    assert normalise_path(raw) == "/etc/passwd"


def test_an_encoded_slash_stays_inside_its_segment() -> None:
    assert normalise_path("/a/..%2F..%2Fetc/passwd") == "/a/..%2F..%2Fetc/passwd"
    assert normalise_path("/a/%2e%2e%2fetc") == "/a/..%2Fetc"


# "\n" is left out here: see test_object_key_with_a_trailing_newline_is_refused.
key_chars = st.sampled_from([*"abc./\\-_%:+=@ \x00\t\r", "..", "isr", "/..", "%2e"])


@settings(max_examples=800, deadline=None)
@given(st.lists(key_chars, max_size=20).map("".join))
def test_accepted_object_keys_stay_inside_any_root(key: str) -> None:
    try:
        check_object_key(key)
    except InvalidKeyError:
        return
    root = "/srv/html-root"
    resolved = posixpath.normpath(posixpath.join(root, key))
    assert resolved.startswith(root + "/")
    assert not key.startswith("/")
    assert ".." not in key.split("/")
    assert "\\" not in key
    assert not any(ord(c) < 32 for c in key)


@pytest.mark.parametrize(
    "key",
    [
        "../secret.html",
        "isr/../../secret.html",
        "/etc/passwd",
        "//etc/passwd",
        "isr/./x.html",
        "isr\\..\\..\\secret.html",
        "isr/%2e%2e/secret.html",
        "isr/x.html\x00.png",
        "isr//x.html",
        "",
        "isr/" + "a" * 2000,
    ],
)
def test_escaping_object_keys_are_refused(key: str) -> None:
    with pytest.raises(InvalidKeyError):
        check_object_key(key)


@pytest.mark.parametrize("key", ["isr/x.html\n", "a\n"])
def test_object_key_with_a_trailing_newline_is_refused(key: str) -> None:
    with pytest.raises(InvalidKeyError):
        check_object_key(key)


@given(st.text(), st.from_regex(r"[0-9a-f]{64}", fullmatch=True))
def test_derived_object_keys_never_carry_the_cache_key(cache_key: str, digest: str) -> None:
    key = html_object_key("isr", cache_key, digest)
    assert check_object_key(key) == key
    assert key.count("/") == 2  # prefix/hash/digest.html whatever the cache key holds


# --- a META record pointing outside the store is a miss, never a read ----------------------

POINTERS = [
    "../secret.html",
    "../../secret.html",
    "isr/../../secret.html",
    "isr/../../../secret.html",
    "/etc/passwd",
    "isr\\..\\..\\secret.html",
    "isr/%2e%2e/%2e%2e/secret.html",
    "isr/link.html",  # a symlink inside the root that points outside it
]


def _plant(rig: Rig, html_key: str) -> None:
    """Commit a record for /p whose pointer is ``html_key``, fresh for a minute."""
    lease = rig.meta.try_acquire_lease(rig.key(), 15)
    assert isinstance(lease, Lease)
    record = CacheRecord(rig.key(), html_key, rig.clock.now(), 60, size=len(SECRET))
    rig.meta.commit_generation(lease, record)


def _assert_miss_without_secret(rig: Rig) -> None:
    for answer in (rig.get(), rig.stream()):
        if isinstance(answer, dict):
            status, state, body = (
                answer["statusCode"],
                answer["headers"]["x-isr-cache"],
                answer["body"].encode(),
            )
        else:
            status, state, body = answer.status, answer.headers["x-isr-cache"], answer.body
        assert status == 200
        assert b"SECRET" not in body
        assert state in ("miss", "hit")  # regenerated, then served from the new record
        assert body in {page("/p", 1)}
    record = rig.meta.get(rig.key())
    assert record is not None
    assert record.html_key.startswith("isr/")  # the bad pointer was replaced


@pytest.mark.parametrize("pointer", POINTERS)
def test_file_store_pointer_outside_the_root_is_a_miss(tmp_path: Path, pointer: str) -> None:
    root = tmp_path / "site" / "html"
    store = FileHtmlStore(root, fsync=False)
    for outside in (tmp_path / "site" / "secret.html", tmp_path / "secret.html"):
        outside.write_bytes(SECRET)
    (root / "isr").mkdir(parents=True, exist_ok=True)
    os.symlink(tmp_path / "secret.html", root / "isr" / "link.html")
    with pytest.raises(InvalidKeyError):
        store.path_for(pointer)
    rig = make_rig(html_backend=store)
    _plant(rig, pointer)
    _assert_miss_without_secret(rig)


@pytest.mark.parametrize("pointer", POINTERS[:-1])
def test_memory_store_pointer_outside_the_namespace_is_a_miss(pointer: str) -> None:
    rig = make_rig(html_backend=MemoryHtmlStore())
    _plant(rig, pointer)
    _assert_miss_without_secret(rig)


@pytest.mark.parametrize("pointer", POINTERS[:-1])
def test_s3_pointer_outside_the_prefix_is_a_miss(moto_s3_bucket: S3Bucket, pointer: str) -> None:
    # S3 keys are opaque: "isr/../secret.html" is a real, readable object there. The pointer
    # check must refuse it anyway (it is not a key this store could have written).
    client, bucket = moto_s3_bucket.client, moto_s3_bucket.name
    client.put_object(Bucket=bucket, Key=pointer.lstrip("/") or "x", Body=SECRET)
    client.put_object(Bucket=bucket, Key=pointer, Body=SECRET)
    store: HtmlStore = S3HtmlStore(bucket, client=client, clock=FakeClock(1_000_000.0))
    rig = make_rig(html_backend=store)
    _plant(rig, pointer)
    _assert_miss_without_secret(rig)


@pytest.mark.parametrize("raw", ["\n", "/a\n", "/posts/x\n"])
def test_a_trailing_newline_never_takes_the_canonical_fast_path(raw: str) -> None:
    # ``$`` matches before a final newline: every pattern here is matched in full.
    path = normalise_path(raw)
    assert "\n" not in path
    assert path.startswith("/")


def test_a_method_with_a_trailing_newline_is_a_bad_request() -> None:
    event = {"rawPath": "/", "requestContext": {"http": {"method": "GET\n"}}}
    with pytest.raises(InvalidEventError):
        parse_event(event)
