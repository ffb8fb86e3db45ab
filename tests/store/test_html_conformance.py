"""The HtmlStore contract, run identically on memory, files and moto S3."""

from __future__ import annotations

import pytest

from lambda_isr.errors import InvalidKeyError
from lambda_isr.store.contract import DEFAULT_CONTENT_TYPE
from lambda_isr.store.keys import content_digest, etag_for, html_object_key
from tests.store.conftest import HtmlHarness

KEY = "default::/products/{id}?id=42"
BODY = b"<!doctype html><html><body>" + b"x" * 200_000 + b"</body></html>"


def test_put_then_stream_in_chunks(html_harness: HtmlHarness) -> None:
    store = html_harness.make()
    headers = (("cache-control", "public"), ("x-frame-options", "DENY"))
    stored = store.put(KEY, BODY, status=201, content_type="text/html", headers=headers)
    digest = content_digest(BODY, status=201, content_type="text/html", headers=headers)
    assert stored.key == html_object_key("isr", KEY, digest)
    assert stored.etag == etag_for(digest)
    assert (stored.size, stored.status, stored.content_type) == (len(BODY), 201, "text/html")
    assert stored.headers == headers
    assert stored.content_hash == digest
    stream = store.open(stored.key, chunk_size=16_384)
    assert stream is not None
    with stream:
        assert stream.meta == stored
        chunks = list(stream.chunks)
    assert b"".join(chunks) == BODY
    assert len(chunks) >= len(BODY) // 16_384
    assert all(0 < len(c) <= 16_384 for c in chunks)


def test_defaults(html_harness: HtmlHarness) -> None:
    store = html_harness.make()
    stored = store.put(KEY, b"<p>hi</p>")
    assert (stored.status, stored.content_type, stored.headers) == (200, DEFAULT_CONTENT_TYPE, ())
    stream = store.open(stored.key)
    assert stream is not None
    assert stream.meta == stored
    assert stream.read_all() == b"<p>hi</p>"


def test_empty_body(html_harness: HtmlHarness) -> None:
    store = html_harness.make()
    stored = store.put(KEY, b"", status=204)
    stream = store.open(stored.key)
    assert stream is not None
    assert stream.read_all() == b""
    assert stream.meta.size == 0


def test_unchanged_body_is_not_written_again(html_harness: HtmlHarness) -> None:
    store = html_harness.make()
    first = store.put(KEY, BODY)
    assert html_harness.writes() == 1
    second = store.put(KEY, BODY)
    assert second == first
    assert html_harness.writes() == 1
    changed = store.put(KEY, BODY + b"!")
    assert changed.key != first.key
    assert html_harness.writes() == 2
    # Same body, other status: another representation, another object.
    assert store.put(KEY, BODY, status=404).key != first.key
    # Same body for another page: another object (keys are per cache key).
    assert store.put("other", BODY).key != first.key


def test_missing_object_is_none(html_harness: HtmlHarness) -> None:
    store = html_harness.make()
    assert store.open(f"isr/{'0' * 32}/{'1' * 64}.html") is None
    assert store.open("isr/abc/1700000000000-7d0f.html") is None


@pytest.mark.parametrize(
    "key", ["../etc/passwd", "isr/../../x", "/abs/path", "isr//x", "a\\b", "nul\x00", "./x", ""]
)
def test_bad_keys_rejected(html_harness: HtmlHarness, key: str) -> None:
    with pytest.raises(InvalidKeyError):
        html_harness.make().open(key)


@pytest.mark.parametrize(
    "cache_key", ["x" * 10_240, "nul\x00", "emoji \U0001f600", "", "../../etc/passwd"]
)
def test_any_cache_key(html_harness: HtmlHarness, cache_key: str) -> None:
    store = html_harness.make()
    stored = store.put(cache_key, b"body")
    assert stored.key.startswith("isr/")
    stream = store.open(stored.key)
    assert stream is not None
    assert stream.read_all() == b"body"


def test_close_without_reading(html_harness: HtmlHarness) -> None:
    store = html_harness.make()
    stored = store.put(KEY, BODY)
    stream = store.open(stored.key, chunk_size=1024)
    assert stream is not None
    assert next(stream.chunks) == BODY[:1024]
    stream.close()
    again = store.open(stored.key)
    assert again is not None
    assert again.read_all() == BODY


@pytest.mark.parametrize("damage", ["bit-flip", "truncated"])
def test_a_damaged_object_is_replaced_by_the_next_put(
    html_harness: HtmlHarness, damage: str
) -> None:
    """Issue 16, item 6: content-addressed ``put`` reuses an existing object only when it holds
    the same bytes; a damaged one (same length or not) is written again."""
    store = html_harness.make()
    stored = store.put(KEY, BODY)
    assert html_harness.make().put(KEY, BODY) == stored  # intact: reused, not rewritten
    assert html_harness.writes() == 1
    flipped = BODY[:100] + bytes([BODY[100] ^ 1]) + BODY[101:]
    broken = flipped if damage == "bit-flip" else BODY[:-10]
    html_harness.damage(stored.key, broken)
    opened = store.open(stored.key)
    assert opened is not None
    assert opened.read_all() == broken  # what a reader gets now
    opened.damaged()  # the reader's verdict (a store remembering the key as good forgets it)
    assert store.put(KEY, BODY) == stored
    assert html_harness.writes() == 2
    repaired = html_harness.make().open(stored.key)
    assert repaired is not None
    assert repaired.read_all() == BODY
    assert html_harness.make().put(KEY, BODY) == stored
    assert html_harness.writes() == 2  # repaired: reused again
