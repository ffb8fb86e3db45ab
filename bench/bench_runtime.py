"""Runtime loop benchmarks (prints, never asserts timings).

    .venv/bin/python -m bench.bench_runtime [--quick]

1. Per-invocation overhead of our loop vs the stock runtime client (``python -m awslambdaric``)
   on the same local Runtime API with a trivial buffered handler (N invocations per run,
   repeated runs, median/min/max). The fake API's own cost is in both numbers.
2. Streaming throughput of a 50 MB body through our loop, in MB/s.
3. Import time of ``lambda_isr.runtime`` (and of the whole loop) in a fresh interpreter.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from lambda_isr.runtime.local_api import LocalRuntimeApi
from lambda_isr.runtime.recording import StreamEnd

REPO = Path(__file__).resolve().parents[1]
HANDLERS = """
def trivial(event, context):
    return {"statusCode": 200, "body": "ok"}

def big(event, context):
    from lambda_isr.runtime.stream import StreamingResponse
    chunk = b"x" * event["chunk"]
    return StreamingResponse(body=(chunk for _ in range(event["total"] // event["chunk"])))
"""


def start(
    api: LocalRuntimeApi, root: Path, argv: list[str], handler: str, **env: str
) -> subprocess.Popen[bytes]:
    environ = {
        "PATH": os.environ.get("PATH", ""),
        "AWS_LAMBDA_RUNTIME_API": api.address,
        "_HANDLER": handler,
        "LAMBDA_TASK_ROOT": str(root),
        "PYTHONPATH": f"{root}:{REPO / 'layer'}",
        **env,
    }
    return subprocess.Popen(argv, env=environ, cwd=root, stdout=subprocess.DEVNULL)


def stop(process: subprocess.Popen[bytes]) -> None:
    os.kill(process.pid, signal.SIGTERM)
    process.wait(10)


def per_invocation_us(api: LocalRuntimeApi, n: int) -> float:
    pendings = [api.enqueue({"n": i}, trace_id="") for i in range(n)]
    started = time.perf_counter()
    for pending in pendings:
        pending.wait(60)
    elapsed = time.perf_counter() - started
    for pending in pendings:
        del api.invocations[pending.request_id]
    return elapsed / n * 1e6


def overhead(root: Path, name: str, argv: list[str], n: int, runs: int, **env: str) -> float:
    with LocalRuntimeApi() as api:
        api.keep_requests = False
        process = start(api, root, argv, "app.trivial", **env)
        try:
            per_invocation_us(api, 50)  # warm-up (and waits for the cold start)
            samples = [per_invocation_us(api, n) for _ in range(runs)]
        finally:
            stop(process)
    med = statistics.median(samples)
    print(f"  {name:<34} median {med:7.1f} us  min {min(samples):7.1f}  max {max(samples):7.1f}")
    return med


def throughput(root: Path, total: int, chunk: int, runs: int) -> None:
    with LocalRuntimeApi() as api:
        api.keep_requests = False
        process = start(api, root, [sys.executable, "-m", "lambda_isr.runtime"], "app.big")
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
    label = f"{total // 10**6} MB in {chunk // 1024} KiB chunks"
    print(
        f"  {label:<34} median {statistics.median(rates):6.0f} MB/s"
        f"  min {min(rates):6.0f}  max {max(rates):6.0f}"
    )


def fresh_ms(code: str, runs: int) -> tuple[float, float]:
    env = {**os.environ, "PYTHONPATH": str(REPO / "layer")}
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], env=env, check=True)
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples), min(samples)


def imports(runs: int) -> None:
    base_med, base_min = fresh_ms("pass", runs)
    print(f"  {'bare interpreter':<44} median {base_med:6.1f} ms  min {base_min:6.1f}")
    cases: list[tuple[str, str]] = [
        ("import lambda_isr.runtime", "import lambda_isr.runtime"),
        ("the whole loop (lambda_isr.runtime.loop)", "import lambda_isr.runtime.loop"),
        ("stock awslambdaric.bootstrap", "import awslambdaric.bootstrap"),
        ("h11 alone", "import h11"),
    ]
    for label, code in cases:
        med, low = fresh_ms(code, runs)
        print(f"  {label:<44} median {med:6.1f} ms  min {low:6.1f}  (+{med - base_med:5.1f} ms)")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer, smaller runs")
    args = parser.parse_args(argv)
    n, runs = (300, 3) if args.quick else (1000, 5)
    timed: Callable[[], float] = time.perf_counter
    began = timed()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "app.py").write_text(HANDLERS)
        print(f"1. per-invocation time, trivial buffered handler ({n} invocations x {runs} runs)")
        ours = overhead(
            root, "lambda-isr loop", [sys.executable, "-m", "lambda_isr.runtime"], n, runs
        )
        stock = overhead(
            root, "awslambdaric", [sys.executable, "-m", "awslambdaric", "app.trivial"], n, runs
        )
        stock_312 = overhead(
            root,
            "awslambdaric (python3.12+ mode)",
            [sys.executable, "-m", "awslambdaric", "app.trivial"],
            n,
            runs,
            AWS_EXECUTION_ENV="AWS_Lambda_python3.13",
        )
        print(f"  ratio ours/awslambdaric: {ours / stock:.2f}")
        print(f"  ratio ours/awslambdaric in python3.12+ mode: {ours / stock_312:.2f}")
        print("2. streaming throughput (local API parses every chunk in Python)")
        for chunk in (64 * 1024, 1024 * 1024):
            throughput(root, 50 * 10**6, chunk, 2 if args.quick else 3)
    print("3. import time in a fresh interpreter")
    imports(7 if args.quick else 15)
    print(f"total bench time {timed() - began:.1f} s")


if __name__ == "__main__":
    main()
