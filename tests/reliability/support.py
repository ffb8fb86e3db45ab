"""Shared rig for the reliability suite: a deterministic face over fault-injecting stores."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from lambda_isr.http.request import FaceRequest
from lambda_isr.isr.bodycache import BodyCache
from lambda_isr.store.contract import HtmlStore, Lease, MetaStore
from lambda_isr.store.faults import FaultPlan, FaultyHtmlStore, FaultyMetaStore
from lambda_isr.store.memory import MemoryHtmlStore, MemoryMetaStore
from lambda_isr.testing import FakeClock
from tests.isr.helpers import HOST, Env, FakeContext, RecordingWriter, make_env
from tests.support.events import make_event

PARTS = 6
"""Chunks per rendered page (each a few dozen bytes; the HTML store re-chunks by 8 bytes)."""


def page_parts(path: str, generation: int) -> list[str]:
    head = f"<html><head><title>{path}</title></head><body>"
    parts = [head] + [f"<p>{path} generation {generation} part {i}</p>" for i in range(PARTS)]
    return [*parts, "</body></html>"]


def page(path: str, generation: int) -> bytes:
    """The complete body of generation ``generation`` of ``path``."""
    return "".join(page_parts(path, generation)).encode()


class Pages:
    """A deterministic face: the n-th render of a path (over all paths) is generation n."""

    def __init__(self) -> None:
        self.generation = 0
        self.started: list[tuple[str, int]] = []
        self.per_path: Counter[str] = Counter()
        self._lock = threading.Lock()

    def __call__(self, request: FaceRequest) -> Iterator[str]:
        with self._lock:
            self.generation += 1
            gen = self.generation
            self.started.append((request.path, gen))
            self.per_path[request.path] += 1
        yield from page_parts(request.path, gen)

    @property
    def renders(self) -> int:
        return len(self.started)

    def complete(self) -> set[bytes]:
        """Every complete body a render so far could have produced."""
        with self._lock:
            return {page(path, gen) for path, gen in self.started}


@dataclass
class Rig:
    env: Env
    plan: FaultPlan
    meta: MemoryMetaStore
    html: MemoryHtmlStore
    pages: Pages

    @property
    def clock(self) -> FakeClock:
        return self.env.clock

    def get(self, path: str = "/p", **kw: Any) -> dict[str, Any]:
        """A buffered GET (the stock runtime's contract)."""
        result: dict[str, Any] = self.env.face(make_event(path, **kw), FakeContext())
        return result

    def stream(self, path: str = "/p", **kw: Any) -> RecordingWriter:
        """A streamed GET (the layer runtime's contract)."""
        writer = RecordingWriter()
        self.env.face.__lambda_isr_stream__(make_event(path, **kw), FakeContext(), writer)
        return writer

    def key(self, path: str = "/p") -> str:
        return f"default::{HOST}{path}"

    def lease_free(self, path: str = "/p") -> bool:
        got = self.meta.try_acquire_lease(self.key(path), 15)
        if isinstance(got, Lease):
            self.meta.release_lease(got)
            return True
        return False


def make_rig(
    *,
    plan: FaultPlan | None = None,
    body_cache: bool = False,
    chunk_size: int | None = 8,
    clock: FakeClock | None = None,
    meta: MemoryMetaStore | None = None,
    html: MemoryHtmlStore | None = None,
    html_backend: HtmlStore | None = None,
    **options: Any,
) -> Rig:
    """A face over memory stores wrapped in fault injectors (the plan starts with no faults).

    ``body_cache=False`` gives the face an empty, zero-capacity body cache so every stored
    copy is read from the HTML store (and can break there). ``html_backend`` replaces the
    memory HTML store behind the fault wrapper (``Rig.html`` then stays unused)."""
    clock = clock or FakeClock(1_000_000.0)
    plan = plan or FaultPlan()
    meta = meta or MemoryMetaStore(clock=clock)
    html = html or MemoryHtmlStore()
    pages = Pages()
    faulty_meta: MetaStore = FaultyMetaStore(meta, plan)
    faulty_html: HtmlStore = FaultyHtmlStore(html_backend or html, plan, chunk_size=chunk_size)
    env = make_env(pages, clock=clock, meta_store=faulty_meta, html_store=faulty_html, **options)
    if not body_cache:
        # Set on the engine: ``isr_face(body_cache=BodyCache(...))`` is ignored when the cache
        # is empty (see test_body_cache_option_is_honoured).
        env.face.driver.bodies = BodyCache(max_bytes=0)
    return Rig(env, plan, meta, html, pages)


def assert_clean(result: dict[str, Any]) -> None:
    """A well-formed buffered Function URL answer from lambda-isr."""
    assert isinstance(result["statusCode"], int)
    assert 200 <= result["statusCode"] <= 599
    assert isinstance(result["body"], str)
    assert isinstance(result["isBase64Encoded"], bool)
    headers = result["headers"]
    assert isinstance(headers, dict)
    for name, value in headers.items():
        assert isinstance(name, str)
        assert isinstance(value, str)
        assert not any(c in value for c in "\r\n\0"), (name, value)
    assert headers["x-isr-cache"] in {"hit", "miss", "stale", "wait-hit", "stale-error", "bypass"}
    assert headers["x-request-id"]
    if result["statusCode"] >= 500:
        assert headers["cache-control"] == "no-store"
