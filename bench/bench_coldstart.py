"""5. Cold start of the demo handler from the built layer, vs a bare boto3 DynamoDB client.

    .venv/bin/python -m bench.bench_coldstart [--runs N]

The layer is built into a temporary folder with ``build_layer.build()`` (python3.13 x86_64,
.pyc); the demo handler's own dependency (jinja2, ``handler/requirements.txt``) is installed
for the same target into another folder, and, for the tracing case only, ``aws-xray-sdk``
(the Powertools Tracer needs it and the layer does not ship it). Everything is compiled to .pyc
by python3.13. Each case is a fresh ``python3.13 -S`` that sees only those folders (plus the
stdlib), ``PYTHONDONTWRITEBYTECODE=1``; the cases are interleaved run by run.

- baseline: ``import boto3; boto3.client("dynamodb")`` from the layer folder (and, for
  reference, the same plus ``boto3.client("s3")``: the two clients the store creates).
- handler import: ``import app``.
- handler init: ``import app`` + the store the first request creates (``app.app.store()``:
  DynamoDB + S3 clients, table and bucket from the environment).
- with tracing: ``POWERTOOLS_TRACE_DISABLED=false`` and the Tracer created too
  (``app.app.observability.tracer``; ``isr_face`` creates it lazily on the first request).

Ratios are given on wall time and net of the bare interpreter start (both include the same
interpreter; "net" is the stricter figure).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from bench.common import REPO, spread

TARGET = "3.13"
PLATFORM_ARGS = [
    "--platform", "manylinux2014_x86_64", "--implementation", "cp",
    "--python-version", TARGET, "--only-binary=:all:",
]  # fmt: skip


@dataclass
class Case:
    label: str
    statement: str
    tracing: bool = False
    samples: list[float] = field(default_factory=list)


@contextmanager
def quiet_stderr(log: Path) -> Iterator[None]:
    """Send fd 2 (pip's index warnings) to ``log`` for the block; shown if the block fails."""
    sys.stderr.flush()
    saved = os.dup(2)
    with open(log, "wb") as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield
        except BaseException:
            os.dup2(saved, 2)
            sys.stderr.write(log.read_text(errors="replace")[-3000:])
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def pip_target(target: Path, *requirements: str, no_deps: bool = False) -> None:
    cmd = [
        sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
        "--no-compile", "--target", str(target), *PLATFORM_ARGS, *requirements,
    ]  # fmt: skip
    if no_deps:
        cmd.append("--no-deps")
    subprocess.run(cmd, check=True)


def prepare(tmp: Path) -> tuple[str, list[Path], list[Path]]:
    """Build everything; returns (python3.13, sys.path without tracing, extra for tracing)."""
    sys.path.insert(0, str(REPO / "layer"))
    import build_layer  # noqa: PLC0415

    python = build_layer.find_python(TARGET)
    layer, deps, xray, handler = tmp / "layer", tmp / "deps", tmp / "xray", tmp / "handler"
    started = time.perf_counter()
    with quiet_stderr(tmp / "pip.log"):
        build_layer.build(layer, "x86_64", TARGET)
        pip_target(deps, "--requirement", str(REPO / "handler" / "requirements.txt"))
        pip_target(xray, "aws-xray-sdk==2.15.0", "wrapt", no_deps=True)
    handler.mkdir()
    for source in (REPO / "handler").glob("*.py"):
        (handler / source.name).write_bytes(source.read_bytes())
    (handler / "templates").symlink_to(REPO / "handler" / "templates")
    (handler / "dist").symlink_to(REPO / "handler" / "dist")  # the Vite manifest
    for folder in (deps, xray, handler):
        build_layer.compile_pyc(folder, python)
    size = build_layer.folder_size(layer) / 1e6
    print(
        f"  built layer ({size:.1f} MB) + jinja2 + aws-xray-sdk for python{TARGET} "
        f"in {time.perf_counter() - started:.1f} s"
    )
    return python, [layer / "python", deps, handler], [xray]


def fresh_ms(python: str, paths: list[Path], statement: str, tracing: bool) -> float:
    code = f"import sys; sys.path[:0] = {[str(p) for p in paths]!r}; {statement}"
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONDONTWRITEBYTECODE": "1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_LAMBDA_FUNCTION_NAME": "bench",
        "POWERTOOLS_TRACE_DISABLED": "false" if tracing else "true",
        "FACETHEORY_CACHE_TABLE_NAME": "bench-table",
        "FACETHEORY_ISR_BUCKET": "bench-bucket",
    }
    started = time.perf_counter()
    subprocess.run([python, "-S", "-c", code], check=True, env=env, cwd=paths[-1])
    return (time.perf_counter() - started) * 1000


def run(runs: int = 9) -> dict[str, float]:
    print(f"5. cold start from the built layer on python{TARGET} ({runs} runs per case)")
    baseline = 'import boto3; boto3.client("dynamodb")'
    init = "import app; app.app.store()"
    cases = [
        Case("bare interpreter", "pass"),
        Case("baseline: boto3 + DynamoDB client", baseline),
        Case("boto3 + DynamoDB + S3 clients", f'{baseline}; boto3.client("s3")'),
        Case("handler import (import app)", "import app"),
        Case("handler init (import + store)", init),
        Case("handler init, tracing on", f"{init}; assert app.app.observability.tracer", True),
    ]
    with tempfile.TemporaryDirectory() as tmp:
        python, paths, xray = prepare(Path(tmp))
        for case in cases:  # warm the page cache once
            fresh_ms(python, paths + (xray if case.tracing else []), case.statement, case.tracing)
        for _ in range(runs):
            for case in cases:
                extra = xray if case.tracing else []
                case.samples.append(fresh_ms(python, paths + extra, case.statement, case.tracing))
    bare = statistics.median(cases[0].samples)
    base = statistics.median(cases[1].samples)
    for case in cases:
        print(f"  {case.label:<36} {spread(case.samples, ' ms', 0)}")
    out: dict[str, float] = {}
    both = statistics.median(cases[2].samples)
    for case, key in ((cases[3], "import"), (cases[4], "init"), (cases[5], "init_tracing")):
        med = statistics.median(case.samples)
        wall, net = med / base, (med - bare) / (base - bare)
        out[f"cold_{key}_wall"], out[f"cold_{key}_net"] = wall, net
        print(f"  {case.label:<36} / baseline: {wall:.2f}x wall, {net:.2f}x net (goal <= 1.3)")
        if key != "import":
            vs_both = (med - bare) / (both - bare)
            out[f"cold_{key}_vs_both"] = vs_both
            print(f"  {'':<36} / boto3 + both clients: {vs_both:.2f}x net")
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args(argv)
    run(args.runs)


if __name__ == "__main__":
    main()
