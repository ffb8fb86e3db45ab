"""Runtime loop benchmarks (prints, never asserts timings).

    .venv/bin/python -m bench.bench_runtime [--quick]

1. Per-invocation overhead of our loop vs the stock runtime client (``python -m awslambdaric``)
   on the same local Runtime API with a trivial buffered handler (N invocations per run). The
   runtimes stay up side by side and their runs are interleaved (ours, stock, stock 3.12+, ours,
   ...) so that machine noise hits all of them alike; median/min/max over the runs. Two figures:
   wall time per invocation (the fake API's own cost is in it, the same for everybody) and the
   CPU time of the runtime process alone per invocation (``/proc/PID/task/*/schedstat``, ns),
   which is what the runtime itself costs and is far less sensitive to noise. Beside them, our
   loop serving a warm ISR hit (``@isr_face(revalidate=3600)`` on the embedded store, a 2 kB
   page, Powertools summary line and metrics written to stdout): its invocation rate against
   the bare awslambdaric's.
2. Streaming throughput of a 50 MB body through our loop, in MB/s.
3. Cold start (process spawn to the first ``/next``, wall time) and import cost in a fresh
   interpreter: CPU time (user + system) of ``python -c 'import X'`` against a bare interpreter
   (CPU time is far less sensitive than wall time to other load on the machine).
"""

from __future__ import annotations

import argparse
import os
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from lambda_isr.runtime.local_api import LocalRuntimeApi
from lambda_isr.runtime.recording import StreamEnd

REPO = Path(__file__).resolve().parents[1]
HANDLERS = """
def trivial(event, context):
    return {"statusCode": 200, "body": "ok"}

def _isr_hit():
    import os, tempfile
    os.environ["LAMBDA_ISR_DIR"] = tempfile.mkdtemp(prefix="bench-isr-")
    os.environ.pop("FACETHEORY_CACHE_TABLE_NAME", None)
    from lambda_isr import isr_face

    @isr_face(revalidate=3600, vary_cookies=[])
    def page(request):
        return "<!doctype html><html><body>" + "x" * 2000 + "</body></html>"

    return page

isr_hit = _isr_hit()

class _Constant:
    # The ceiling of any hit: the same 2 kB page, streamed, with nothing looked up.
    PAGE = ("<!doctype html><html><body>" + "x" * 2000 + "</body></html>").encode()

    def __call__(self, event, context):
        return {"statusCode": 200, "body": self.PAGE.decode()}

    def __lambda_isr_stream__(self, event, context, writer):
        writer.respond(200, {"content-type": "text/html; charset=utf-8"}, [], self.PAGE)

constant = _Constant()

def big(event, context):
    from lambda_isr.runtime.stream import StreamingResponse
    chunk = b"x" * event["chunk"]
    return StreamingResponse(body=(chunk for _ in range(event["total"] // event["chunk"])))
"""
OURS = [sys.executable, "-m", "lambda_isr.runtime"]
STOCK = [sys.executable, "-m", "awslambdaric", "app.trivial"]
STOCK_312: dict[str, str] = {"AWS_EXECUTION_ENV": "AWS_Lambda_python3.13"}
# What the Powertools summary line and EMF metrics cost a hit: both switched off by their own
# settings (the INFO summary line below the log level; metrics not flushed).
QUIET: dict[str, str] = {"POWERTOOLS_LOG_LEVEL": "WARNING", "POWERTOOLS_METRICS_DISABLED": "true"}


def start(
    api: LocalRuntimeApi,
    root: Path,
    argv: list[str],
    handler: str,
    *,
    layer: Path = REPO / "layer",
    env: dict[str, str] | None = None,
) -> subprocess.Popen[bytes]:
    environ = {
        "PATH": os.environ.get("PATH", ""),
        "AWS_LAMBDA_RUNTIME_API": api.address,
        "_HANDLER": handler,
        "LAMBDA_TASK_ROOT": str(root),
        "PYTHONPATH": f"{root}:{layer}",
        **(env or {}),
    }
    return subprocess.Popen(argv, env=environ, cwd=root, stdout=subprocess.DEVNULL)


def stop(process: subprocess.Popen[bytes]) -> None:
    os.kill(process.pid, signal.SIGTERM)
    process.wait(10)


def cpu_ns(pid: int) -> int:
    """CPU time of every thread of ``pid`` so far (ns)."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            total += int((task / "schedstat").read_text().split()[0])
        except (FileNotFoundError, ProcessLookupError):  # a thread that just ended
            continue
    return total


@dataclass
class Subject:
    name: str
    api: LocalRuntimeApi
    process: subprocess.Popen[bytes]
    event: dict[str, object] | None = None
    wall_us: list[float] = field(default_factory=list)
    cpu_us: list[float] = field(default_factory=list)

    def run(self, n: int) -> None:
        pendings = [self.api.enqueue(self.event or {"n": i}, trace_id="") for i in range(n)]
        cpu_before = cpu_ns(self.process.pid)
        started = time.perf_counter()
        for pending in pendings:
            pending.wait(60)
        elapsed = time.perf_counter() - started
        cpu = cpu_ns(self.process.pid) - cpu_before
        for pending in pendings:
            del self.api.invocations[pending.request_id]
        self.wall_us.append(elapsed / n * 1e6)
        self.cpu_us.append(cpu / n / 1e3)


@contextmanager
def subject(
    root: Path,
    name: str,
    argv: list[str],
    *,
    layer: Path = REPO / "layer",
    env: dict[str, str] | None = None,
    handler: str = "app.trivial",
    event: dict[str, object] | None = None,
) -> Iterator[Subject]:
    with LocalRuntimeApi() as api:
        api.keep_requests = False
        process = start(api, root, argv, handler, layer=layer, env=env)
        try:
            yield Subject(name, api, process, event)
        finally:
            stop(process)


def spread(samples: list[float], unit: str, width: int = 7) -> str:
    med = statistics.median(samples)
    return (
        f"median {med:{width}.1f} {unit}  min {min(samples):{width}.1f}"
        f"  max {max(samples):{width}.1f}"
    )


def hit_event() -> dict[str, object]:
    """The Function URL GET of ``events/`` (what the tests and ``sam local`` send)."""
    sys.path.insert(0, str(REPO))
    from tests.support.events import make_event  # noqa: PLC0415

    return dict(make_event("/page"))


def overhead(root: Path, n: int, runs: int, baseline: Path | None) -> None:
    HIT = hit_event()  # noqa: N806
    with ExitStack() as stack:
        subjects = [
            stack.enter_context(subject(root, "lambda-isr loop", OURS)),
            stack.enter_context(subject(root, "awslambdaric", STOCK)),
            stack.enter_context(
                subject(root, "awslambdaric (python3.12+ mode)", STOCK, env=STOCK_312)
            ),
            stack.enter_context(
                subject(root, "lambda-isr loop, ISR hit", OURS, handler="app.isr_hit", event=HIT)
            ),
            stack.enter_context(
                subject(
                    root,
                    "ISR hit, no summary line/metrics",
                    OURS,
                    handler="app.isr_hit",
                    event=HIT,
                    env=QUIET,
                )
            ),
            stack.enter_context(
                subject(root, "constant 2 kB page, streamed", OURS, handler="app.constant")
            ),
        ]
        if baseline is not None:
            subjects.append(
                stack.enter_context(
                    subject(root, "lambda-isr loop (--baseline)", OURS, layer=baseline)
                )
            )
            subjects.append(
                stack.enter_context(
                    subject(
                        root,
                        "ISR hit (--baseline)",
                        OURS,
                        layer=baseline,
                        handler="app.isr_hit",
                        event=HIT,
                    )
                )
            )
        for s in subjects:
            s.run(50)  # warm-up (and waits for the cold start)
            s.wall_us.clear()
            s.cpu_us.clear()
        for _ in range(runs):
            for s in subjects:
                s.run(n)
    print("  wall time per invocation (runtime + fake API + wake-ups)")
    for s in subjects:
        print(f"    {s.name:<34} {spread(s.wall_us, 'us')}")
    print("  CPU time of the runtime process per invocation")
    for s in subjects:
        print(f"    {s.name:<34} {spread(s.cpu_us, 'us')}")
    ours, stock, stock_312, hit, quiet, constant = subjects[:6]
    pairs = [("awslambdaric", stock), ("awslambdaric in python3.12+ mode", stock_312)]
    pairs += [("--baseline", other) for other in subjects[6:7]]
    for label, other in pairs:
        walls = [a / b for a, b in zip(ours.wall_us, other.wall_us, strict=True)]
        cpus = [a / b for a, b in zip(ours.cpu_us, other.cpu_us, strict=True)]
        print(
            f"  ratio ours/{label}: wall {statistics.median(walls):.2f}"
            f" (runs {min(walls):.2f}-{max(walls):.2f}), CPU {statistics.median(cpus):.2f}"
            f" (runs {min(cpus):.2f}-{max(cpus):.2f})"
        )
    hit_pairs = [(hit, "awslambdaric", stock), (quiet, "awslambdaric, quiet", stock)]
    hit_pairs += [(constant, "awslambdaric, constant page", stock)]
    hit_pairs += [(hit, "--baseline", s) for s in subjects[7:]]
    for mine, label, other in hit_pairs:
        # A rate ratio (invocations per second): higher is better, the other way round.
        walls = [b / a for a, b in zip(mine.wall_us, other.wall_us, strict=True)]
        cpus = [b / a for a, b in zip(mine.cpu_us, other.cpu_us, strict=True)]
        print(
            f"  rate ratio ISR hit/{label}: wall {statistics.median(walls):.2f}"
            f" (runs {min(walls):.2f}-{max(walls):.2f}), CPU {statistics.median(cpus):.2f}"
            f" (runs {min(cpus):.2f}-{max(cpus):.2f})"
        )


def throughput(
    root: Path, total: int, chunk: int, runs: int, layer: Path = REPO / "layer", name: str = ""
) -> None:
    with LocalRuntimeApi() as api:
        api.keep_requests = False
        process = start(api, root, OURS, "app.big", layer=layer)
        try:
            rates = []
            for _ in range(runs):
                pending = api.enqueue({"total": total, "chunk": chunk}).wait(120)
                prelude, end = pending.prelude, pending.final
                assert prelude is not None
                assert isinstance(end, StreamEnd)
                assert len(pending.body) == total // chunk * chunk
                rates.append(total / 1e6 / (end.at - prelude.at))
                del api.invocations[pending.request_id]
        finally:
            stop(process)
    label = f"{total // 10**6} MB in {chunk // 1024} KiB chunks{name}"
    print(f"  {label:<34} {spread(rates, 'MB/s', 6)}")


def cold_start(root: Path, name: str, argv: list[str], runs: int) -> None:
    """Spawn to the first ``/next`` (the event is queued before the process starts)."""
    samples = []
    for _ in range(runs):
        with LocalRuntimeApi() as api:
            api.keep_requests = False
            pending = api.enqueue({"n": 0}, trace_id="")
            started = time.monotonic()
            process = start(api, root, argv, "app.trivial")
            try:
                pending.wait(30)
            finally:
                stop(process)
            assert pending.delivered_at is not None
            samples.append((pending.delivered_at - started) * 1000)
    print(f"  {name:<44} {spread(samples, 'ms', 6)}")


def fresh(code: str, runs: int, layer: Path) -> tuple[list[float], list[float]]:
    """Wall and CPU (user + system) time of ``python -c code`` in ms, ``runs`` times."""
    env = {**os.environ, "PYTHONPATH": str(layer)}
    walls, cpus = [], []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], env=env, check=True)
        walls.append((time.perf_counter() - started) * 1000)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
        cpus.append(cpu * 1000)
    return walls, cpus


def imports(root: Path, runs: int, baseline: Path | None) -> None:
    print("  cold start: process spawn to the first /next (wall)")
    cold_start(root, "lambda-isr loop", OURS, runs)
    cold_start(root, "awslambdaric", STOCK, runs)
    print(
        "  import in a fresh interpreter, CPU time (user+sys) of the process; +X is the"
        " difference of medians (of minimums) with a bare interpreter"
    )
    layers = [("", REPO / "layer")]
    if baseline is not None:
        layers.append((" (--baseline)", baseline))
    cases: list[tuple[str, str]] = [
        ("bare interpreter", "pass"),
        ("import lambda_isr", "import lambda_isr"),
        ("import lambda_isr.runtime", "import lambda_isr.runtime"),
        ("the loop (lambda_isr.runtime.loop)", "import lambda_isr.runtime.loop"),
        (
            "loop + handler loader (= main())",
            "import lambda_isr.runtime.loop, lambda_isr.runtime.loader",
        ),
        ("stock awslambdaric.bootstrap", "import awslambdaric.bootstrap"),
    ]
    base_med = base_min = 0.0
    for label, code in cases:
        for suffix, layer in layers if "lambda_isr" in code else layers[:1]:
            _, cpus = fresh(code, runs, layer)
            med, low = statistics.median(cpus), min(cpus)
            if code == "pass":
                base_med, base_min = med, low
                extra = ""
            else:
                extra = f"  (+{med - base_med:5.1f} ms, +{low - base_min:5.1f} ms of minimums)"
            print(f"    {label + suffix:<48} {spread(cpus, 'ms', 6)}{extra}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer, smaller runs")
    parser.add_argument("--only", choices=("overhead", "throughput", "imports"), default=None)
    parser.add_argument(
        "--baseline",
        type=Path,
        default=None,
        help="another copy of the layer directory to run side by side (before/after figures)",
    )
    args = parser.parse_args(argv)
    n, runs = (300, 5) if args.quick else (1000, 9)
    timed: Callable[[], float] = time.perf_counter
    began = timed()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "app.py").write_text(HANDLERS)
        if args.only in (None, "overhead"):
            print(
                f"1. per invocation, trivial buffered handler ({n} invocations x {runs} runs,"
                " interleaved)"
            )
            overhead(root, n, runs, args.baseline)
        if args.only in (None, "throughput"):
            print("2. streaming throughput (local API parses every chunk in Python)")
            for chunk in (64 * 1024, 1024 * 1024):
                throughput(root, 50 * 10**6, chunk, 2 if args.quick else 3)
                if args.baseline is not None:
                    throughput(
                        root, 50 * 10**6, chunk, 2 if args.quick else 3, args.baseline, " (base)"
                    )
        if args.only in (None, "imports"):
            print("3. cold start and import time")
            imports(root, 9 if args.quick else 25, args.baseline)
    print(f"total bench time {timed() - began:.1f} s; load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
