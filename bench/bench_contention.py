"""3. Contention: N concurrent requests from N processes on a stale page and on a new page.

    .venv/bin/python -m bench.bench_contention [--processes 64] [--rounds 5] [--render 1.0]

N worker processes (multiprocessing, ``spawn``: one "sandbox" each, with its own face, boto3
client and body cache) share DynamoDB Local (metadata + leases, the production client path via
``AWS_ENDPOINT_URL_DYNAMODB``) and a files HTML store. Each first renders and stores a private
page, as a warm sandbox has (else round 0 measures one process's first commit). Every round,
for each scenario, all workers are released together by a barrier and send one GET for the
same page:

- stale: the page was rendered before the round and soft-purged (``invalidate``);
- new: a path never rendered.

The render appends one line to a shared file and sleeps ``--render`` seconds, so renders are
counted from the file. Errors are exceptions or a status other than 200. Latencies are measured
in each worker from its release; "waiters" are the requests that did not render. Each worker's
meta store counts record reads and lease attempts and notes when reads and its commit return
(``perf_counter``, one clock for every process): reads per waiter per second of waiting, when
the commit lands, how soon waiters see it, and how busy the CPUs were.
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
    reads: int = 0  # record reads (GetItem) the request made
    tries: int = 0  # lease attempts (conditional PutItem)
    started: float = 0.0  # perf_counter at the release
    committed: float = 0.0  # perf_counter when its commit returned (the renderer's), else 0
    seen: float = 0.0  # perf_counter when its last record read returned


class _Meter:
    """The store calls of a worker's current request."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.reads = self.tries = 0
        self.seen = self.committed = 0.0


def _metered(table: str, meter: _Meter) -> Any:
    """A DynamoDB meta store counting into ``meter``."""
    from lambda_isr.store.contract import AcquireResult, CacheRecord, Lease  # noqa: PLC0415
    from lambda_isr.store.dynamodb import DynamoDbMetaStore  # noqa: PLC0415

    class Metered(DynamoDbMetaStore):
        def get(self, cache_key: str) -> CacheRecord | None:
            try:
                return super().get(cache_key)
            finally:
                meter.reads += 1
                meter.seen = time.perf_counter()

        def try_acquire_lease(self, cache_key: str, duration: float) -> AcquireResult:
            meter.tries += 1
            return super().try_acquire_lease(cache_key, duration)

        def commit_generation(self, lease: Lease, record: CacheRecord) -> None:
            super().commit_generation(lease, record)
            meter.committed = time.perf_counter()

    return Metered(table)


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


def _face(
    table: str, html_dir: str, render: Any, meter: _Meter | None = None, **options: Any
) -> Any:
    from bench.common import quiet_observability  # noqa: PLC0415
    from lambda_isr import isr_face  # noqa: PLC0415
    from lambda_isr.store.contract import Store  # noqa: PLC0415
    from lambda_isr.store.dynamodb import DynamoDbMetaStore  # noqa: PLC0415
    from lambda_isr.store.files import FileHtmlStore  # noqa: PLC0415

    meta = DynamoDbMetaStore(table) if meter is None else _metered(table, meter)
    store = Store(meta, FileHtmlStore(html_dir, fsync=False), "bench")
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

    meter = _Meter()
    face = _face(table, html_dir, render, meter, wait_timeout=30.0)
    face(make_event(f"/bench/contention/warm-up/{worker}"))  # a warm sandbox (docstring)
    for round_no in range(rounds):
        for scenario in SCENARIOS:
            event = make_event(_path(round_no, scenario))
            meter.reset()
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
            m = meter
            results.put(
                Result(round_no, scenario, worker, seconds, status, state, error,
                       m.reads, m.tries, started, m.committed, m.seen)
            )  # fmt: skip


def _renders(render_log: Path, path: str) -> int:
    if not render_log.exists():
        return 0
    return sum(1 for line in render_log.read_text().splitlines() if line == path)


def _cpu_ticks() -> tuple[int, int]:
    """(busy, total) CPU ticks of the machine so far (Linux; zeros elsewhere)."""
    stat = Path("/proc/stat")
    fields = [int(x) for x in stat.read_text().split()[1:11]] if stat.exists() else [0] * 5
    return sum(fields) - fields[3] - fields[4], sum(fields)  # idle and iowait are not busy


def _reduce(mine: list[Result], render_s: float) -> dict[str, float]:
    """One scenario's round: the waiters' p50 and p99 as multiples of the render time; the
    record reads and lease attempts per second of waiting of those that waited for the commit
    (``wait-hit``: their counts over their summed latencies); when the commit returned after
    the release (x render time), and how long after it their reads that saw it returned (p99,
    ms)."""
    waiters = [r for r in mine if r.state != "miss"]
    if not waiters:
        return {}
    latency = [r.seconds / render_s for r in waiters]
    out = {"p50": percentile(latency, 50), "p99": percentile(latency, 99)}
    waited = [r for r in waiters if r.state == "wait-hit"]
    if waited:
        seconds = sum(r.seconds for r in waited)
        out["reads_per_waiter_s"] = sum(r.reads for r in waited) / seconds
        out["tries_per_waiter_s"] = sum(r.tries for r in waited) / seconds
    committed = [r.committed for r in mine if r.committed]
    if committed:
        out["commit_x"] = (committed[0] - min(r.started for r in mine)) / render_s
    if committed and waited:
        out["seen_p99_ms"] = percentile([(r.seen - committed[0]) * 1000 for r in waited], 99)
    return out


def run(processes: int = 64, rounds: int = 5, render_s: float = 1.0) -> dict[str, float]:
    load = os.getloadavg() if hasattr(os, "getloadavg") else (0.0, 0.0, 0.0)
    print(
        f"3. contention: {processes} processes released together, render {render_s:.2f} s, "
        f"{rounds} rounds (DynamoDB Local + files HTML store), load average {load[0]:.1f}"
    )
    sys.path.insert(0, str(REPO))
    from tests.support.ddb_local import create_table  # noqa: PLC0415

    ctx = mp.get_context("spawn")
    busy: dict[str, list[float]] = {s: [] for s in SCENARIOS}
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
                    cpu = _cpu_ticks()
                    barrier.wait(300)
                    if round_no == 0 and scenario == SCENARIOS[0]:
                        ready = time.perf_counter() - began
                        print(f"  ({processes} workers ready and warm in {ready:.1f} s)")
                    collected += [results.get(timeout=120) for _ in range(processes)]
                    after = _cpu_ticks()
                    if after[1] > cpu[1]:
                        busy[scenario].append((after[0] - cpu[0]) / (after[1] - cpu[1]))
        finally:
            for w in workers:
                w.join(30)
                if w.is_alive():
                    w.terminate()
        summary: dict[str, float] = {}
        for scenario in SCENARIOS:
            renders, errors, reduced, render_lat = [], [], [], []
            states: Counter[str] = Counter()
            for round_no in range(rounds):
                mine = [r for r in collected if r.scenario == scenario and r.round == round_no]
                renders.append(_renders(render_log, _path(round_no, scenario)))
                bad = [r for r in mine if r.error or r.status != 200]
                errors.append(len(bad))
                for r in bad[:2]:
                    print(f"    error: status {r.status} {r.state} {r.error.strip()[-300:]}")
                states.update(r.state or "exception" for r in mine)
                render_lat += [r.seconds / render_s for r in mine if r.state == "miss"]
                reduced.append(_reduce(mine, render_s))
            _report(scenario, renders, errors, states, reduced, render_lat, busy[scenario])
            summary[f"{scenario}_renders_max"] = float(max(renders))
            summary[f"{scenario}_renders_min"] = float(min(renders))
            summary[f"{scenario}_errors"] = float(sum(errors))
            for key in _KEYS:
                values = [r[key] for r in reduced if key in r]
                summary[f"{scenario}_{key}"] = statistics.median(values) if values else NAN
            shares = busy[scenario]
            summary[f"{scenario}_cpu_busy"] = statistics.median(shares) if shares else NAN
    load = os.getloadavg() if hasattr(os, "getloadavg") else (0.0, 0.0, 0.0)
    print(f"  (load average {load[0]:.1f} at the end)")
    return summary


_KEYS = ("p50", "p99", "reads_per_waiter_s", "tries_per_waiter_s", "commit_x", "seen_p99_ms")
NAN = float("nan")


def _report(
    scenario: str,
    renders: list[int],
    errors: list[int],
    states: Counter[str],
    reduced: list[dict[str, float]],
    render_lat: list[float],
    busy: list[float],
) -> None:
    print(f"  {scenario} page: renders per round {renders} (goal 1 each), "
          f"errors per round {errors} (goal 0)")  # fmt: skip
    print(f"    states over all rounds: {dict(sorted(states.items()))}")

    def column(key: str) -> list[float]:
        return [r[key] for r in reduced if key in r]

    rows = [
        ("waiters p50 / render time ", column("p50"), "x", 3),
        ("waiters p99 / render time ", column("p99"), "x", 3),
        ("renderer's own latency    ", render_lat, "x", 3),
        ("waiters' record reads per waiter per second", column("reads_per_waiter_s"), "", 1),
        ("waiters' lease attempts per waiter per second", column("tries_per_waiter_s"), "", 1),
        ("commit returned after the release", column("commit_x"), "x", 3),
        ("waiters saw it, p99 ms after the commit", column("seen_p99_ms"), "", 0),
        ("CPU busy during the rounds, all cores", [100 * b for b in busy], "%", 0),
    ]
    for label, values, unit, digits in rows:
        if values:
            print(f"    {label} {spread(values, unit, digits)}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--processes", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--render", type=float, default=1.0)
    args = parser.parse_args(argv)
    run(args.processes, args.rounds, args.render)


if __name__ == "__main__":
    main()
