"""Small pure pieces: path/key normalisation, header policy, body cache, render, lease keeper."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator

import pytest

from lambda_isr.errors import InvalidEventError, TenantRequiredError
from lambda_isr.http.request import FaceRequest, Headers
from lambda_isr.isr import policy
from lambda_isr.isr.bodycache import BodyCache
from lambda_isr.isr.config import IsrConfig, KeyConfig, TrailingSlash
from lambda_isr.isr.keys import build_key, normalise_host, normalise_path
from lambda_isr.isr.lease_keeper import LeaseKeeper
from lambda_isr.isr.render import start_render
from lambda_isr.isr.states import CacheState
from lambda_isr.store.contract import CacheRecord, Lease
from lambda_isr.store.memory import MemoryMetaStore
from lambda_isr.testing import FakeClock


@pytest.mark.parametrize(
    ("raw", "strip", "keep"),
    [
        ("/", "/", "/"),
        ("//a///b", "/a/b", "/a/b"),
        ("/a/./b/../c/", "/a/c", "/a/c/"),
        ("/../../etc/passwd", "/etc/passwd", "/etc/passwd"),
        ("/%2e%2e/x", "/x", "/x"),
        ("/a%2Fb", "/a%2Fb", "/a%2Fb"),
        ("/caf%C3%A9", "/caf%C3%A9", "/caf%C3%A9"),
        ("/café", "/caf%C3%A9", "/caf%C3%A9"),
        ("/%7euser", "/~user", "/~user"),
        ("/a/..", "/", "/"),
    ],
)
def test_normalise_path(raw: str, strip: str, keep: str) -> None:
    assert normalise_path(raw) == strip
    assert normalise_path(raw, TrailingSlash.KEEP) == keep


def test_bad_percent_encoding_is_a_bad_request() -> None:
    with pytest.raises(InvalidEventError):
        normalise_path("/%ff%fe")


def test_normalise_host() -> None:
    assert normalise_host("Example.COM:443") == "example.com"
    assert normalise_host("example.com:8443") == "example.com:8443"
    assert len(normalise_host("evil/host\x00")) == 24


def _req(**kwargs: object) -> FaceRequest:
    headers = Headers({"host": "h.example", **kwargs.pop("headers", {})})  # type: ignore[dict-item]
    return FaceRequest("GET", kwargs.pop("path", "/p"), headers=headers, **kwargs)  # type: ignore[arg-type]


def test_keys() -> None:
    config = KeyConfig(vary_query=("b", "a"))
    request = _req(query={"a": ("2", "1"), "b": ("x y",), "utm_source": ("z",)})
    assert build_key(request, config).key == "default::h.example/p?a=1&a=2&b=x%20y"
    assert build_key(_req(), KeyConfig(vary_host=False)).key == "default::/p"
    custom = KeyConfig(key=lambda r: "page:1", tenant=lambda r: "t/1")
    assert build_key(_req(), custom).key == "t%2F1::h.example::page:1"
    with pytest.raises(TenantRequiredError):
        build_key(_req(headers={"x-facetheory-tenant": "a"}), KeyConfig())
    assert build_key(_req(headers={"authorization": "x"}), KeyConfig()).bypass_reason == (
        "credentials"
    )
    assert build_key(_req(cookies={"a": "1"}), KeyConfig()).bypass_reason == "cookies"
    ignored = KeyConfig(vary_cookies=())
    assert build_key(_req(cookies={"a": "1"}), ignored).key == "default::h.example/p"


def test_shared_cache_headers_never_zero_and_never_must_revalidate() -> None:
    config = IsrConfig(revalidate=30, stale_if_error=0, cdn_cache_control=False)
    headers = policy.cache_control(CacheState.HIT, 0.4, config)
    assert headers == {"cache-control": "public, max-age=0, s-maxage=1, stale-while-revalidate=30"}
    for state in CacheState:
        for remaining in (0.0, 0.5, 29.9):
            value = policy.cache_control(state, remaining, IsrConfig(revalidate=30))
            assert "s-maxage=0" not in value["cache-control"]
            assert "must-revalidate" not in value["cache-control"]
    assert policy.cache_control(CacheState.STALE, 10, config) == {
        "cache-control": "private, no-cache"
    }
    assert policy.cache_control(CacheState.MISS, 10, config) == {
        "cache-control": "private, no-cache"
    }


def test_cache_status_entries() -> None:
    assert policy.cache_status(hit=True, ttl=41.9) == "lambda-isr; hit; ttl=41"
    assert (
        policy.cache_status(hit=True, ttl=-9.2, detail="x") == "lambda-isr; hit; ttl=-10; detail=x"
    )
    assert policy.cache_status(fwd="miss", stored=True) == "lambda-isr; fwd=miss; stored"


def test_stored_headers_drop_per_response_ones() -> None:
    kept = policy.stored_headers(
        {"content-type": "t", "etag": "e", "set-cookie": "c", "x-a": "1", "content-language": "en"}
    )
    assert kept == (("content-language", "en"), ("x-a", "1"))


def _record(key: str, digest: str) -> CacheRecord:
    return CacheRecord(key, f"isr/{digest}.html", 0.0, 60, content_hash=digest)


def test_body_cache_is_keyed_by_the_pointer_not_by_extra_attributes() -> None:
    """A writer that moves ``s3_key`` but leaves lambda-isr's ``content_hash`` behind must not
    get the previous body served under the new pointer."""
    cache = BodyCache()
    old = CacheRecord("k", "isr/old.html", 0.0, 60, content_hash="same")
    moved = CacheRecord("k", "isr/new.html", 1.0, 60, content_hash="same")
    cache.put(old, b"old body")
    assert cache.get(old) == b"old body"
    assert cache.get(moved) is None


def test_render_pulls_only_the_first_chunk_unless_buffered() -> None:
    pulled: list[int] = []

    def face(request: int) -> Iterator[str]:
        for i in range(3):
            pulled.append(i)
            yield "" if i == 0 else str(i)

    stream = start_render(face, 0, eager=False)
    assert stream.prefetched == [b"1"]
    assert pulled == [0, 1]
    assert list(stream.chunks()) == [b"1", b"2"]
    stream.close()
    pulled.clear()
    buffered = start_render(face, 0, eager=True)
    assert pulled == [0, 1, 2]
    assert buffered.prefetched == [b"1", b"2"]
    buffered.close()


def test_render_closes_abandoned_generators() -> None:
    closed: list[str] = []

    def sync_face(request: int) -> Iterator[str]:
        try:
            yield "a"
            yield "b"
        finally:
            closed.append("sync")

    async def async_face(request: int) -> AsyncIterator[str]:
        try:
            await asyncio.sleep(0)
            yield "a"
            yield "b"
        finally:
            closed.append("async")

    for face in (sync_face, async_face):
        start_render(face, 0, eager=False).close()
    assert closed == ["sync", "async"]


def test_render_first_chunk_failure_propagates() -> None:
    def face(request: int) -> Iterator[str]:
        if request == 0:
            raise ValueError("boom")
        yield "never"

    with pytest.raises(ValueError, match="boom"):
        start_render(face, 0, eager=False)


def test_lease_keeper_refreshes_after_half_the_lease_only() -> None:
    clock = FakeClock(100.0)
    meta = MemoryMetaStore(clock=clock)
    lease = meta.try_acquire_lease("k", 10)
    assert isinstance(lease, Lease)
    keeper = LeaseKeeper(meta, lease, 10, clock, logging.getLogger("t"), poll=3600)
    keeper.tick()
    assert keeper.refreshes == 0
    clock.advance(5)
    keeper.tick()
    assert keeper.refreshes == 1
    assert keeper.lease.expires_at == 115
    clock.advance(20)  # expired: a refresh now fails and the keeper notes the loss
    keeper.tick()
    assert keeper.lost
    assert keeper.stop() == keeper.lease
