"""3. Contention: N concurrent requests from N processes on a stale page and on a new page.

    .venv/bin/python -m bench.bench_contention [--processes 64] [--rounds 3] [--render 0.5]

N worker processes (multiprocessing, ``spawn``: one "sandbox" each, with its own face, boto3
client and body cache) share DynamoDB Local (metadata + leases, the production client path via
``AWS_ENDPOINT_URL_DYNAMODB``) and a files HTML store. Every round, for each scenario, all
workers are released together by a barrier and send one GET for the same page:

- stale: the page was rendered before the round and soft-purged (``invalidate``);
- new: a path never rendered.

The render appends one line to a shared file and sleeps ``--render`` seconds, so renders are
counted from the file. Errors are exceptions or a status other than 200. Latencies are measured
in each worker from its release; "waiters" are the requests that did not render.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import statistics
import sys
import tempfile
import time
import traceback
from collections import Counter
from dataclasses import dataclass
from multiprocessing.synchronize import Barrier
from pathlib import Path
from typing import Any

from bench.common import REPO, ddb_local, percentile, spread

SCENARIOS = ("stale", "new")
HOST = "abc123.lambda-url.us-east-1.on.aws"  # events/get.json


@dataclass(frozen=True)
class Result:
    round: int
    scenario: str
    worker: int
    seconds: float
    status: int
    state: str
    error: str


def _path(round_no: int, scenario: str) -> str:
    return f"/bench/contention/{round_no}/{scenario}"


def _setup_env(endpoint: str) -> None:
    os.environ.update(
        {
            "AWS_ENDPOINT_URL_DYNAMODB": endpoint,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "POWERTOOLS_TRACE_DISABLED": "true",
        }
    )


def _face(table: str, html_dir: str, render: Any, **options: Any) -> Any:
    from bench.common import quiet_observability  # noqa: PLC0415
    from lambda_isr import isr_face  # noqa: PLC0415
    from lambda_isr.store.contract import Store  # noqa: PLC0415
    from lambda_isr.store.dynamodb import DynamoDbMetaStore  # noqa: PLC0415
    from lambda_isr.store.files import FileHtmlStore  # noqa: PLC0415

    store = Store(DynamoDbMetaStore(table), FileHtmlStore(html_dir, fsync=False), "bench")
    return isr_face(revalidate=3600, store=store, **quiet_observability(), **options)(render)


def _worker(
    worker: int,
    endpoint: str,
    table: str,
    html_dir: str,
    render_log: str,
    render_s: float,
    rounds: int,
    barrier: Barrier,
    results: Any,
) -> None:
    sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - EMF metrics print; process-lifetime
    _setup_env(endpoint)
    sys.path.insert(0, str(REPO))
    from tests.support.events import make_event  # noqa: PLC0415

    def render(request: Any) -> str:
        with open(render_log, "a", encoding="utf-8") as log:
            log.write(f"{request.path}\n")
        time.sleep(render_s)
        return f"<!doctype html><p>rendered by worker {worker} for {request.path}</p>"

    face = _face(table, html_dir, render, wait_timeout=30.0)
    face.store().meta.get("warm-up")  # the client and its connection, as a warm sandbox has
    for round_no in range(rounds):
        for scenario in SCENARIOS:
            event = make_event(_path(round_no, scenario))
            barrier.wait(300)
            started = time.perf_counter()
            status, state, error = 0, "", ""
            try:
                response = face(event)
                status = int(response["statusCode"])
                state = str(response["headers"].get("x-isr-cache", ""))
            except Exception:
                error = traceback.format_exc(limit=3)
            seconds = time.perf_counter() - started
            results.put(Result(round_no, scenario, worker, seconds, status, state, error))


def _renders(render_log: Path, path: str) -> int:
    if not render_log.exists():
        return 0
    return sum(1 for line in render_log.read_text().splitlines() if line == path)


def run(processes: int = 64, rounds: int = 3, render_s: float = 0.5) -> dict[str, float]:
    print(
        f"3. contention: {processes} processes released together, render {render_s:.2f} s, "
        f"{rounds} rounds (DynamoDB Local + files HTML store)"
    )
    sys.path.insert(0, str(REPO))
    from tests.support.ddb_local import create_table  # noqa: PLC0415

    ctx = mp.get_context("spawn")
    with ddb_local() as ddb, tempfile.TemporaryDirectory() as tmp:
        table = create_table(ddb.client())
        html_dir, render_log = Path(tmp) / "html", Path(tmp) / "renders.log"
        _setup_env(ddb.endpoint)
        prerender = _face(table, str(html_dir), lambda _r: "<!doctype html><p>old</p>")
        sys.path.insert(0, str(REPO))
        from contextlib import redirect_stdout  # noqa: PLC0415

        from bench.common import NULL  # noqa: PLC0415
        from tests.support.events import make_event  # noqa: PLC0415

        barrier = ctx.Barrier(processes + 1)
        results = ctx.Queue()
        began = time.perf_counter()
        common = (ddb.endpoint, table, str(html_dir), str(render_log), render_s, rounds)
        workers = [
            ctx.Process(target=_worker, args=(i, *common, barrier, results), daemon=True)
            for i in range(processes)
        ]
        for w in workers:
            w.start()
        collected: list[Result] = []
        try:
            for round_no in range(rounds):
                for scenario in SCENARIOS:
                    path = _path(round_no, scenario)
                    if scenario == "stale":
                        with redirect_stdout(NULL):
                            prerender(make_event(path))
                        if not prerender.store().meta.invalidate(f"default::{HOST}{path}"):
                            print(f"  (could not invalidate {path}: the stale case is a miss)")
                    barrier.wait(300)
                    if round_no == 0 and scenario == SCENARIOS[0]:
                        ready = time.perf_counter() - began
                        print(f"  ({processes} workers ready in {ready:.1f} s)")
                    collected += [results.get(timeout=120) for _ in range(processes)]
        finally:
            for w in workers:
                w.join(30)
                if w.is_alive():
                    w.terminate()
        summary: dict[str, float] = {}
        for scenario in SCENARIOS:
            renders, errors, p50s, p99s, render_lat = [], [], [], [], []
            states: Counter[str] = Counter()
            for round_no in range(rounds):
                mine = [r for r in collected if r.scenario == scenario and r.round == round_no]
                renders.append(_renders(render_log, _path(round_no, scenario)))
                bad = [r for r in mine if r.error or r.status != 200]
                errors.append(len(bad))
                for r in bad[:2]:
                    print(f"    error: status {r.status} {r.state} {r.error.strip()[-300:]}")
                states.update(r.state or "exception" for r in mine)
                waiters = [r.seconds / render_s for r in mine if r.state != "miss"]
                render_lat += [r.seconds / render_s for r in mine if r.state == "miss"]
                if waiters:
                    p50s.append(percentile(waiters, 50))
                    p99s.append(percentile(waiters, 99))
            print(f"  {scenario} page: renders per round {renders} (goal 1 each), "
                  f"errors per round {errors} (goal 0)")  # fmt: skip
            print(f"    states over all rounds: {dict(sorted(states.items()))}")
            if p50s:
                print(f"    waiters p50 / render time  {spread(p50s, 'x', 3)}")
                print(f"    waiters p99 / render time  {spread(p99s, 'x', 3)}")
            if render_lat:
                print(f"    renderer's own latency     {spread(render_lat, 'x', 3)}")
            summary[f"{scenario}_renders_max"] = float(max(renders))
            summary[f"{scenario}_renders_min"] = float(min(renders))
            summary[f"{scenario}_errors"] = float(sum(errors))
            summary[f"{scenario}_p50"] = statistics.median(p50s) if p50s else float("nan")
            summary[f"{scenario}_p99"] = statistics.median(p99s) if p99s else float("nan")
    return summary


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--processes", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--render", type=float, default=0.5)
    args = parser.parse_args(argv)
    run(args.processes, args.rounds, args.render)


if __name__ == "__main__":
    main()
