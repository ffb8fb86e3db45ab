"""8. Static builds and tag purges (issue 14).

    .venv/bin/python -m bench.bench_build [--pages N]

- build: ``lambda-isr build``'s engine over N pages whose render sleeps 50 ms, on the embedded
  store (SQLite + files), ``concurrency=8``: wall time / (N x 50 ms / 8) (goal <= 1.3); then a
  second, unchanged build: objects written (goal 0).
- ``invalidate_tags`` over N tagged entries (4 variants per path) on DynamoDB Local: store calls
  per purged entry (goal <= 1.1: batched reads + one write each) and time per entry.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

from bench.common import NULL, REPO, ddb_local, quiet_observability
from lambda_isr import FaceApp, FaceRequest, FaceResult, invalidate_tags
from lambda_isr.build import PageOutcome, build
from lambda_isr.store.contract import Store
from lambda_isr.store.dynamodb import DynamoDbMetaStore
from lambda_isr.store.files import FileHtmlStore
from lambda_isr.store.memory import MemoryHtmlStore
from lambda_isr.store.sqlite import SqliteMetaStore

RENDER_SECONDS = 0.05
CONCURRENCY = 8


def _objects(root: Path) -> set[tuple[str, int]]:
    return {(str(p), p.stat().st_ino) for p in root.rglob("*.html") if p.is_file()}


def build_section(pages: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        meta = SqliteMetaStore(root / "meta.sqlite3")
        store = Store(meta, FileHtmlStore(root / "html", fsync=False))
        app = FaceApp("site.example", store=store, **quiet_observability())

        @app.face(
            "/p/{n}",
            mode="ssg",
            generate_static_params=lambda: [{"n": str(n)} for n in range(pages)],
        )
        def page(request: FaceRequest) -> str:
            time.sleep(RENDER_SECONDS)
            return f"<p>{request.params['n']}</p>"

        with redirect_stdout(NULL):
            first = build(app, concurrency=CONCURRENCY)
            before = _objects(root / "html")
            second = build(app, concurrency=CONCURRENCY)
        ideal = pages * RENDER_SECONDS / CONCURRENCY
        rewritten = len(_objects(root / "html") - before)
        meta.close()
    ratio = first.seconds / ideal
    print(f"  build of {pages} pages (50 ms each, concurrency {CONCURRENCY}): {first.line()}")
    print(f"  ratio wall / ideal ({ideal:.2f} s): {ratio:.3f} (goal <= 1.3)")
    print(
        f"  unchanged rebuild: {second.line()};"
        f" objects written {rewritten} (goal 0), unchanged {second.count(PageOutcome.UNCHANGED)}"
    )
    return {"build_ratio": ratio, "rebuild_objects": float(rewritten)}


def purge_section(entries: int) -> dict[str, float]:
    sys.path.insert(0, str(REPO))
    from tests.isr.helpers import FakeContext  # noqa: PLC0415
    from tests.support.ddb_local import create_table  # noqa: PLC0415
    from tests.support.events import make_event  # noqa: PLC0415

    variants: list[dict[str, Any]] = [
        {},
        {"query": "page=2"},
        {"cookies": ["lang=fr"]},
        {"headers": {"accept-language": "de"}},
    ]
    with ddb_local() as ddb:
        client = ddb.client(max_attempts=3)
        meta = DynamoDbMetaStore(create_table(client), client=client)
        store = Store(meta, MemoryHtmlStore())
        app = FaceApp("site.example", store=store, **quiet_observability())

        @app.face(
            "/p/{n}",
            revalidate=3600,
            vary_query=["page"],
            vary_cookies=["lang"],
            vary_headers=["accept-language"],
        )
        def page(request: FaceRequest) -> FaceResult:
            return FaceResult(body="<p>x</p>", tags=["all"])

        with redirect_stdout(NULL):
            for n in range(entries // len(variants)):
                for variant in variants:
                    app(make_event(f"/p/{n}", **variant), FakeContext())
        calls: list[str] = []

        def note(model: Any, **_: Any) -> None:
            calls.append(model.name)

        client.meta.events.register("before-call.dynamodb.*", note)
        started = time.perf_counter()
        result = invalidate_tags(["all"], store=store)
        elapsed = time.perf_counter() - started
        client.meta.events.unregister("before-call.dynamodb.*", note)
    purged = result.total
    per_entry = len(calls) / max(purged, 1)
    ms = elapsed * 1000 / max(purged, 1)
    print(
        f"  invalidate_tags over {purged} entries on DynamoDB Local: {len(calls)} calls"
        f" ({calls.count('Query')} Query, {calls.count('UpdateItem')} UpdateItem)"
    )
    print(f"  store calls per purged entry: {per_entry:.3f} (goal <= 1.1); {ms:.2f} ms per entry")
    return {"purge_calls_per_entry": per_entry, "purge_ms_per_entry": ms}


def run(pages: int = 1000) -> dict[str, float]:
    print(f"8. static build and tag purge ({pages} pages / entries)")
    return {**build_section(pages), **purge_section(pages)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pages", type=int, default=1000)
    args = parser.parse_args(argv)
    run(args.pages)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
