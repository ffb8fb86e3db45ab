"""1. Time to first byte on a miss, streamed vs rendered-then-sent (FaceTheory's way).

    .venv/bin/python -m bench.bench_ttfb [--runs N] [--work SECONDS]

A page whose render yields its ``<head>`` at once and then works for ``--work`` seconds (1 s),
served on a miss (a new path each time, in-memory store) through the real runtime loop
(``python -m lambda_isr.runtime`` in its own process) against the in-process local Runtime API.
Times are taken at the receiving side (the API's monotonic clock): from the moment the event
was handed to the runtime (``/next`` answered) to the first body byte (TTFB) and to the
terminating chunk (total). The same face is also served "render fully, then send" (the
buffered ``face(event)`` result written into the stream at once), in the same run.
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
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from bench.common import REPO, spread
from lambda_isr.runtime.local_api import LocalRuntimeApi
from lambda_isr.runtime.recording import PendingInvocation, RecordedChunk, StreamEnd

HANDLER = """
import os, time
from lambda_isr import isr_face
from lambda_isr.store.contract import Store
from lambda_isr.store.memory import MemoryHtmlStore, MemoryMetaStore

WORK = float(os.environ["BENCH_WORK"])
HEAD = ("<!doctype html><html><head><meta charset=utf-8><title>bench</title>"
        "<link rel=stylesheet href=/site.css></head><body>")

def page(request):
    yield HEAD
    time.sleep(WORK)
    yield "<main>" + "<p>slow part</p>" * 1000 + "</main></body></html>"

face = isr_face(revalidate=60, store=Store(MemoryMetaStore(), MemoryHtmlStore()))(page)

def streamed(event, context):
    return face(event, context)

streamed.__lambda_isr_stream__ = face.__lambda_isr_stream__

def rendered_first(event, context):
    return face(event, context)

def _rendered_first_stream(event, context, writer):
    result = face(event, context)          # the whole render, buffered
    writer.start(result["statusCode"], result["headers"], result.get("cookies") or ())
    writer.write(result["body"])
    writer.end()

rendered_first.__lambda_isr_stream__ = _rendered_first_stream
"""


@dataclass(frozen=True)
class Sample:
    ttfb: float
    total: float

    @property
    def ratio(self) -> float:
        return self.ttfb / self.total


def _event(path: str) -> dict[str, object]:
    sys.path.insert(0, str(REPO))
    from tests.support.events import make_event  # noqa: PLC0415

    return make_event(path)


def _measure(pending: PendingInvocation, process: subprocess.Popen[bytes], log: Path) -> Sample:
    deadline = time.monotonic() + 60
    while not pending.done:
        if process.poll() is not None or time.monotonic() > deadline:
            tail = log.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"the runtime did not answer (exit {process.returncode}): {tail}")
        time.sleep(0.01)
    final = pending.final
    if not isinstance(final, StreamEnd) or final.error_type is not None:
        raise RuntimeError(f"the invocation did not stream cleanly: {final!r}")
    prelude = pending.prelude
    if prelude is None or prelude.headers.get("x-isr-cache") != "miss":
        raise RuntimeError(f"expected a miss, got {prelude!r}")
    first = next(e for e in pending.history if isinstance(e, RecordedChunk))
    assert pending.delivered_at is not None
    return Sample(first.at - pending.delivered_at, final.at - pending.delivered_at)


def _runtime(
    api: LocalRuntimeApi, root: Path, handler: str, work: float, log: IO[bytes]
) -> subprocess.Popen[bytes]:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "AWS_LAMBDA_RUNTIME_API": api.address,
        "_HANDLER": handler,
        "LAMBDA_TASK_ROOT": str(root),
        "PYTHONPATH": f"{root}:{REPO / 'layer'}",
        "AWS_LAMBDA_FUNCTION_NAME": "bench",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "BENCH_WORK": str(work),
    }
    return subprocess.Popen(
        [sys.executable, "-m", "lambda_isr.runtime"],
        env=env,
        cwd=root,
        stdout=subprocess.DEVNULL,
        stderr=log,
    )


def _serve(root: Path, handler: str, work: float, runs: int) -> list[Sample]:
    with LocalRuntimeApi() as api:
        api.keep_requests = False
        log_path = root / f"{handler}.stderr"
        with open(log_path, "wb") as log:
            process = _runtime(api, root, handler, work, log)
        try:
            samples = []
            for i in range(runs):
                pending = api.enqueue(_event(f"/bench/{handler}/{i}"), trace_id="")
                samples.append(_measure(pending, process, log_path))
                del api.invocations[pending.request_id]
            return samples
        finally:
            if process.poll() is None:
                os.kill(process.pid, signal.SIGTERM)
            process.wait(10)


def run(runs: int = 5, work: float = 1.0) -> dict[str, float]:
    print(f"1. TTFB on a miss: head at once, then {work:.1f} s of work ({runs} misses each)")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "bench_ttfb_app.py").write_text(HANDLER)
        streamed = _serve(root, "bench_ttfb_app.streamed", work, runs)
        buffered = _serve(root, "bench_ttfb_app.rendered_first", work, runs)
    for label, samples in (("streamed (lambda-isr)", streamed), ("render, then send", buffered)):
        print(f"  {label:<24} TTFB  {spread([s.ttfb * 1000 for s in samples], ' ms', 1)}")
        print(f"  {'':<24} total {spread([s.total * 1000 for s in samples], ' ms', 1)}")
        print(f"  {'':<24} TTFB/total {spread([s.ratio for s in samples], '', 4)}")
    ours = statistics.median(s.ratio for s in streamed)
    theirs = statistics.median(s.ratio for s in buffered)
    print(f"  => TTFB/render: streamed {ours:.4f} (goal < 0.05), render-then-send {theirs:.3f}")
    return {
        "ttfb_ratio": ours,
        "ttfb_ratio_buffered": theirs,
        "ttfb_ms": statistics.median(s.ttfb for s in streamed) * 1000,
        "render_ms": statistics.median(s.total for s in streamed) * 1000,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--work", type=float, default=1.0)
    args = parser.parse_args(argv)
    run(args.runs, args.work)


if __name__ == "__main__":
    main()
