"""Revalidation without waiting (issue 15), on DynamoDB Local + the files HTML store.

1. The lease winner's latency on a stale page with a 1 s render (until its response ends):
   ``Regeneration.AFTER_RESPONSE`` vs blocking, as a multiple of a hit's p50 / p99 in the same
   run. Goal: after-response p99 <= 2x a hit's p99.
2. Async: 100 pages enqueued by ``revalidate_async`` on moto's SQS, each message delivered 3
   times concurrently to the consumer: renders must be 100.
"""

from __future__ import annotations

import json
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bench.common import ddb_local, percentile, quiet_observability

REPO = Path(__file__).resolve().parents[1]


def _site(ddb: Any, tmp: str, render_s: float, regeneration: Any) -> tuple[Any, Any, list[int]]:
    sys.path.insert(0, str(REPO))
    from lambda_isr.app import FaceApp  # noqa: PLC0415
    from lambda_isr.clock import SystemClock  # noqa: PLC0415
    from lambda_isr.store.contract import Store  # noqa: PLC0415
    from lambda_isr.store.dynamodb import DynamoDbMetaStore  # noqa: PLC0415
    from lambda_isr.store.files import FileHtmlStore  # noqa: PLC0415
    from tests.support.ddb_local import create_table  # noqa: PLC0415

    client = ddb.client()
    meta = DynamoDbMetaStore(create_table(client), client=client, clock=SystemClock())
    store = Store(meta, FileHtmlStore(Path(tmp) / "html", fsync=False))
    app = FaceApp(host="site.example", store=store, **quiet_observability())
    renders: list[int] = []
    lock = threading.Lock()

    @app.face("/p/{n}", revalidate=3600, regeneration=regeneration)
    def page(request: Any) -> str:
        with lock:
            renders.append(int(request.params["n"]))
            first = renders.count(int(request.params["n"])) == 1
        if not first:
            time.sleep(render_s)
        return f"<p>{request.params['n']}</p>"

    return app, store, renders


def _ended_ms(app: Any, path: str) -> float:
    from tests.isr.helpers import FakeContext, RecordingWriter  # noqa: PLC0415
    from tests.support.events import make_event  # noqa: PLC0415

    ended: list[float] = []

    class Writer(RecordingWriter):
        def end(self) -> None:
            super().end()
            ended.append(time.perf_counter())

    began = time.perf_counter()
    app.__lambda_isr_stream__(make_event(path), FakeContext(), Writer())
    return (ended[0] - began) * 1000.0


def winner_latency(hits: int = 200, rounds: int = 20, render_s: float = 1.0) -> dict[str, float]:
    from lambda_isr.isr.config import Regeneration  # noqa: PLC0415
    from lambda_isr.isr.keys import page_key  # noqa: PLC0415

    out: dict[str, float] = {}
    with ddb_local() as ddb, tempfile.TemporaryDirectory() as tmp:
        for label, mode, n in (("after", Regeneration.AFTER_RESPONSE, rounds),
                               ("blocking", Regeneration.BLOCKING, 3)):  # fmt: skip
            app, store, _ = _site(ddb, tmp, render_s, mode)
            _ended_ms(app, "/p/1")
            hit = sorted(_ended_ms(app, "/p/1") for _ in range(hits))
            won = []
            for _ in range(n):
                store.meta.invalidate(page_key("/p/1", host="site.example"))
                won.append(_ended_ms(app, "/p/1"))
            out[f"{label}_hit_p50_ms"], out[f"{label}_hit_p99_ms"] = (
                percentile(hit, 50), percentile(hit, 99))  # fmt: skip
            out[f"{label}_p50_x_hit"] = percentile(won, 50) / percentile(hit, 50)
            out[f"{label}_p99_x_hit"] = percentile(won, 99) / percentile(hit, 99)
            print(f"   {label}: winner p50 {percentile(won, 50):.1f} ms, p99 "
                  f"{percentile(won, 99):.1f} ms; hit p50 {percentile(hit, 50):.2f} ms, p99 "
                  f"{percentile(hit, 99):.2f} ms")  # fmt: skip
    return out


def async_renders(pages: int = 100, deliveries: int = 3) -> dict[str, float]:
    import boto3  # noqa: PLC0415
    from moto import mock_aws  # noqa: PLC0415

    from lambda_isr import consumer  # noqa: PLC0415
    from lambda_isr.isr.config import Regeneration  # noqa: PLC0415
    from lambda_isr.isr.detached import detached_request, regenerate  # noqa: PLC0415
    from lambda_isr.revalidate import revalidate_async  # noqa: PLC0415
    from tests.isr.helpers import FakeContext  # noqa: PLC0415
    from tests.revalidation.support import sqs_event  # noqa: PLC0415

    with ddb_local() as ddb, tempfile.TemporaryDirectory() as tmp, mock_aws():
        app, store, renders = _site(ddb, tmp, 0.0, Regeneration.BLOCKING)
        paths = [f"/p/{n}" for n in range(pages)]
        for path in paths:
            found = consumer.resolve(app, path)
            assert found is not None
            regenerate(found.driver, found.face, detached_request(path, host="site.example"))
        before = len(renders)
        sqs = boto3.client("sqs", region_name="us-east-1", aws_access_key_id="x",
                           aws_secret_access_key="x")  # fmt: skip
        url = sqs.create_queue(QueueName="revalidate")["QueueUrl"]
        revalidate_async(paths=paths, host="site.example", sqs=sqs, queue_url=url, store=store)
        bodies: list[str] = []
        while len(bodies) < pages:
            got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
            bodies += [m["Body"] for m in got]

        def deliver(body: str) -> None:
            for _ in range(200):
                answer = consumer.handler(sqs_event(body), FakeContext(), app=app)
                if not answer["batchItemFailures"]:
                    return
                time.sleep(0.05)
            raise AssertionError("never acknowledged")

        began = time.perf_counter()
        with ThreadPoolExecutor(3 * deliveries) as pool:
            list(pool.map(deliver, [b for b in bodies for _ in range(deliveries)]))
        spent = time.perf_counter() - began
        done = len(renders) - before
        print(f"   async: {pages} pages x {deliveries} deliveries -> {done} renders "
              f"in {spent:.1f} s")  # fmt: skip
        assert json.loads(bodies[0])["v"] == 1
    return {"async_renders": float(done), "async_pages": float(pages)}


def run() -> dict[str, float]:
    print("7. revalidation: the lease winner after the response vs blocking; async renders")
    return {**winner_latency(), **async_renders()}


if __name__ == "__main__":
    print(run())
