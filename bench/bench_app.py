"""7. FaceApp: route lookup, the cost of a warm hit through the app, miss TTFB with a head.

    .venv/bin/python -m bench.bench_app [--runs N]

- route lookup: 200 registered routes (static, ``{param}`` at several depths, catch-alls);
  the median per-lookup time of batches over a mix of paths (``Router.match`` on the
  normalised path, and with ``normalise_path`` included).
- warm ISR hit: the same page through a one-route ``FaceApp`` and through a bare
  ``@isr_face``, both on the embedded store (SQLite + files, the ``make dev`` store) with a
  warm body cache, served buffered; per-invocation CPU (``time.process_time``) of 5
  alternating runs, ratio of the medians.
- miss TTFB: a ``FaceApp`` page with a head, a trivial ``load`` and a body that works 1 s
  in 10 steps, streamed (``__lambda_isr_stream__``) into an in-process timing writer:
  first body byte / end, on a new path each time.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

from bench.common import NULL, REPO, quiet_observability, spread
from lambda_isr import FaceApp, FaceRequest, Loaded, Page, PageHead, isr_face
from lambda_isr.app.router import Router
from lambda_isr.isr.keys import normalise_path
from lambda_isr.runtime.writer import BufferedWriter
from lambda_isr.store.contract import Store
from lambda_isr.store.memory import MemoryHtmlStore, MemoryMetaStore

BODY = "<main>" + "<p>cached paragraph</p>" * 200 + "</main>"


def _event(path: str) -> dict[str, Any]:
    import sys  # noqa: PLC0415

    sys.path.insert(0, str(REPO))
    from tests.support.events import make_event  # noqa: PLC0415

    return make_event(path)


def _routes() -> tuple[list[str], list[str]]:
    patterns: list[str] = []
    for i in range(50):
        patterns += [
            f"/section{i}",
            f"/section{i}/{{slug}}",
            f"/section{i}/{{slug}}/comments/{{page}}",
            f"/section{i}/archive/{{rest*}}",
        ]
    paths = [
        "/section7",
        "/section21/hello-world",
        "/section33/a-post/comments/2",
        "/section49/archive/2024/10/01",
        "/section12/caf%C3%A9",
        "/nowhere/at/all",
    ]
    return patterns, paths


def route_lookup(batches: int = 31, per_batch: int = 2000) -> dict[str, float]:
    patterns, paths = _routes()
    router: Router[str] = Router()
    for pattern in patterns:
        router.add(pattern, pattern)
    normalised = [normalise_path(p) for p in paths]

    def batch(fn: Callable[[str], object], items: list[str]) -> float:
        started = time.perf_counter()
        for _ in range(per_batch // len(items)):
            for item in items:
                fn(item)
        return (time.perf_counter() - started) / (per_batch // len(items) * len(items)) * 1e6

    match = router.match
    lookup = [batch(match, normalised) for _ in range(batches)]
    full = [batch(lambda p: match(normalise_path(p)), paths) for _ in range(batches)]
    print(f"  route lookup, {len(router)} routes: {spread(lookup, ' us')} per lookup")
    print(f"  same including normalise_path: {spread(full, ' us')}")
    return {"route_lookup_us": statistics.median(lookup), "route_full_us": statistics.median(full)}


def _hit_handlers(root: Path) -> tuple[Callable[..., Any], Callable[..., Any]]:
    import os  # noqa: PLC0415

    from lambda_isr.store.config import store_from_env  # noqa: PLC0415

    os.environ["LAMBDA_ISR_DIR"] = str(root)
    os.environ.pop("FACETHEORY_CACHE_TABLE_NAME", None)
    store = store_from_env()

    app = FaceApp(store=store, **quiet_observability())

    @app.face("/page", revalidate=3600, vary_cookies=[])
    def app_page(request: FaceRequest) -> Page:
        return Page(body=BODY, head=PageHead(title="bench"))

    document = f"<!doctype html><html><head><title>bench</title></head><body>{BODY}</body></html>"

    @isr_face(revalidate=3600, vary_cookies=[], store=store, **quiet_observability())
    def bare(request: FaceRequest) -> str:
        return document

    return app, bare


def warm_hit(runs: int = 5, per_run: int = 2000) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        app, bare = _hit_handlers(Path(tmp))
        event = _event("/page")
        with redirect_stdout(NULL):
            for handler in (app, bare):
                for _ in range(3):
                    handler(event, None)
            assert app(event, None)["headers"]["x-isr-cache"] == "hit"
            assert bare(event, None)["headers"]["x-isr-cache"] == "hit"
            cpu: dict[str, list[float]] = {"app": [], "bare": []}
            for _ in range(runs):
                for name, handler in (("app", app), ("bare", bare)):
                    started = time.process_time()
                    for _ in range(per_run):
                        handler(event, None)
                    cpu[name].append((time.process_time() - started) / per_run * 1e6)
    ratio = statistics.median(cpu["app"]) / statistics.median(cpu["bare"])
    print(f"  warm hit CPU per invocation, FaceApp: {spread(cpu['app'], ' us')}")
    print(f"  warm hit CPU per invocation, @isr_face: {spread(cpu['bare'], ' us')}")
    print(f"  ratio FaceApp / @isr_face: {ratio:.3f}")
    return {"app_hit_cpu_ratio": ratio}


class TimingWriter(BufferedWriter):
    def __init__(self) -> None:
        super().__init__()
        self.first_write: float | None = None

    def write(self, data: bytes | str) -> None:
        if self.first_write is None and data:
            self.first_write = time.perf_counter()
        super().write(data)


def miss_ttfb(runs: int = 5, work: float = 1.0) -> dict[str, float]:
    app = FaceApp(
        store=Store(MemoryMetaStore(), MemoryHtmlStore()),
        head=PageHead(lang="en", title="bench"),
        title_template="%s · bench",
        **quiet_observability(),
    )

    def load(request: FaceRequest) -> Loaded:
        return Loaded(request.params["n"], head=PageHead(title=f"page {request.params['n']}"))

    def slow(n: str) -> Iterator[str]:
        for _ in range(10):
            time.sleep(work / 10)
            yield f"<p>part of page {n}</p>" * 20

    @app.face("/miss/{n}", revalidate=60, load=load)
    def page(request: FaceRequest, n: str) -> Page:
        return Page(body=slow(n), head=PageHead(description="a slow page"))

    ratios, ttfbs = [], []
    with redirect_stdout(NULL):
        for i in range(runs):
            writer = TimingWriter()
            started = time.perf_counter()
            app.__lambda_isr_stream__(_event(f"/miss/{i}"), None, writer)
            ended = time.perf_counter()
            assert writer.first_write is not None
            ttfbs.append((writer.first_write - started) * 1000)
            ratios.append((writer.first_write - started) / (ended - started))
    print(
        f"  miss TTFB, FaceApp page with head + load, {work:.1f} s body: {spread(ttfbs, ' ms', 1)}"
    )
    print(f"  TTFB / render time: {spread(ratios, '', 4)}")
    return {"app_ttfb_ratio": statistics.median(ratios), "app_ttfb_ms": statistics.median(ttfbs)}


def run(runs: int = 5) -> dict[str, float]:
    print("7. FaceApp: route lookup, warm hit vs @isr_face, miss TTFB with a head")
    out = route_lookup()
    out.update(warm_hit(runs))
    out.update(miss_ttfb(runs))
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    run(args.runs)


if __name__ == "__main__":
    main()
