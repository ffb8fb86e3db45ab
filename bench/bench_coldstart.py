"""5. Cold start of the demo handler from the built layer, vs a bare boto3 DynamoDB client.

    .venv/bin/python -m bench.bench_coldstart [--runs N]

The layer is built into a temporary folder with ``build_layer.build()`` (python3.13 x86_64,
.pyc; it ships ``aws-xray-sdk``, which the tracing case needs); the demo handler's own
dependency (jinja2, ``handler/requirements.txt``) is installed for the same target into another
folder. Everything is compiled to .pyc by python3.13. Each case is a fresh ``python3.13 -S``
that sees only those folders (plus the stdlib), ``PYTHONDONTWRITEBYTECODE=1``, in the
handler's folder; the cases are interleaved run by run. The first line says whether the layer
carries the store's trimmed botocore models (``lambda_isr.store._models``).

The environment is Lambda's (:data:`LAMBDA_ENV`): its reserved variables
(``LAMBDA_TASK_ROOT``, ``AWS_REGION``, the function name) and credentials in environment
variables, as Lambda passes the execution role's (dummy ones: no call is made). Without them,
botocore looks for credentials down its whole chain, up to the EC2 instance metadata service
(a network call), and aws-xray-sdk believes it runs outside Lambda and creates two X-Ray
clients for centralised sampling at import; neither happens in Lambda.

- baseline: ``import boto3; boto3.client("dynamodb")`` from the layer folder (and, for
  reference, the same plus ``boto3.client("s3")``: the two clients the store uses).
- handler import: ``import app``.
- handler init: ``import app`` + the store the first request creates (``app.app.store()``:
  the DynamoDB client, table and bucket from the environment) + its S3 client. The store
  creates the S3 client on first use, but a first request needs it before its first byte
  unless it is a miss (a hit reads the body from S3: the in-process body cache of a new
  sandbox is empty), so it is counted.
- with tracing: ``POWERTOOLS_TRACE_DISABLED=false`` and the Tracer created too
  (``app.app.observability.tracer``; ``isr_face`` creates it lazily on the first request).

Ratios are given on wall time, net of the bare interpreter start (both include the same
interpreter; "net" is the stricter figure), and on the processes' own CPU time, net too: on a
shared machine other jobs stretch wall times by tens of percent, CPU times much less.
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


LAMBDA_ENV = {
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_LAMBDA_FUNCTION_NAME": "bench",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "1024",
    "AWS_EXECUTION_ENV": f"AWS_Lambda_python{TARGET}",
    "AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE",
    "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "AWS_SESSION_TOKEN": "bench",
}
"""What Lambda sets in every function's environment and the cold start depends on
(``LAMBDA_TASK_ROOT`` is the handler's folder); the credentials are dummies."""


@dataclass
class Case:
    label: str
    statement: str
    tracing: bool = False
    samples: list[float] = field(default_factory=list)
    """Wall milliseconds, spawn to exit."""
    cpu: list[float] = field(default_factory=list)
    """The process's own CPU milliseconds (user + system): what other jobs on the machine's
    cores disturb least."""


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


def pip_target(target: Path, *requirements: str) -> None:
    cmd = [
        sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
        "--no-compile", "--target", str(target), *PLATFORM_ARGS, *requirements,
    ]  # fmt: skip
    subprocess.run(cmd, check=True)


def prepare(tmp: Path) -> tuple[str, list[Path]]:
    """Build everything; returns (python3.13, sys.path: the layer, jinja2, the handler)."""
    sys.path.insert(0, str(REPO / "layer"))
    import build_layer  # noqa: PLC0415

    python = build_layer.find_python(TARGET)
    layer, deps, handler = tmp / "layer", tmp / "deps", tmp / "handler"
    started = time.perf_counter()
    with quiet_stderr(tmp / "pip.log"):
        build_layer.build(layer, "x86_64", TARGET)
        pip_target(deps, "--requirement", str(REPO / "handler" / "requirements.txt"))
    handler.mkdir()
    for source in (REPO / "handler").glob("*.py"):
        (handler / source.name).write_bytes(source.read_bytes())
    (handler / "templates").symlink_to(REPO / "handler" / "templates")
    (handler / "dist").symlink_to(REPO / "handler" / "dist")  # the Vite manifest
    for folder in (deps, handler):
        build_layer.compile_pyc(folder, python)
    size = build_layer.folder_size(layer) / 1e6
    models = sorted(p.name for p in (layer / "python" / "lambda_isr" / "store").glob("_models/*"))
    print(
        f"  built layer ({size:.1f} MB) + jinja2 for python{TARGET} in"
        f" {time.perf_counter() - started:.1f} s; the store's trimmed botocore models:"
        f" {', '.join(models) or 'none (full models)'}"
    )
    return python, [layer / "python", deps, handler]


def fresh_ms(python: str, paths: list[Path], statement: str, tracing: bool) -> tuple[float, float]:
    """(wall, CPU) milliseconds of one fresh interpreter running ``statement``."""
    handler = paths[-1]
    code = f"import sys; sys.path[:0] = {[str(p) for p in paths]!r}; {statement}"
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONDONTWRITEBYTECODE": "1",
        **LAMBDA_ENV,
        "LAMBDA_TASK_ROOT": str(handler),
        "POWERTOOLS_TRACE_DISABLED": "false" if tracing else "true",
        "FACETHEORY_CACHE_TABLE_NAME": "bench-table",
        "FACETHEORY_ISR_BUCKET": "bench-bucket",
    }
    started = time.perf_counter()
    child = subprocess.Popen([python, "-S", "-c", code], env=env, cwd=handler)
    _, status, usage = os.wait4(child.pid, 0)
    wall = (time.perf_counter() - started) * 1000
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode:
        raise subprocess.CalledProcessError(child.returncode, statement)
    return wall, (usage.ru_utime + usage.ru_stime) * 1000


GOALS = {"import": 1.3, "init": 1.2, "init_tracing": 1.8}
"""Issue 18: import <= 1.3x the baseline, with the store <= 1.2x, tracing on <= 1.8x."""


def run(runs: int = 9) -> dict[str, float]:
    print(f"5. cold start from the built layer on python{TARGET} ({runs} runs per case)")
    baseline = 'import boto3; boto3.client("dynamodb")'
    store = "import app; store = app.app.store()"
    # + the S3 client, created on first use: by a first request unless it is a miss.
    init = f"{store}; assert store.html._client is not None"
    cases = [
        Case("bare interpreter", "pass"),
        Case("baseline: boto3 + DynamoDB client", baseline),
        Case("boto3 + DynamoDB + S3 clients", f'{baseline}; boto3.client("s3")'),
        Case("handler import (import app)", "import app"),
        Case("handler init (import + store, 2 clients)", init),
        Case("handler init, tracing on", f"{init}; assert app.app.observability.tracer", True),
        Case("import + store, DynamoDB client only", store),
    ]
    with tempfile.TemporaryDirectory() as tmp:
        python, paths = prepare(Path(tmp))
        for case in cases:  # warm the page cache once
            fresh_ms(python, paths, case.statement, case.tracing)
        for _ in range(runs):
            for case in cases:
                wall, cpu = fresh_ms(python, paths, case.statement, case.tracing)
                case.samples.append(wall)
                case.cpu.append(cpu)
    return report(cases)


def report(cases: list[Case]) -> dict[str, float]:
    """Print every case and the ratios to the baseline (``cases[1]``); the results."""
    bare, base, both = (statistics.median(c.samples) for c in cases[:3])
    bare_cpu, base_cpu = (statistics.median(c.cpu) for c in cases[:2])
    width = max(len(case.label) for case in cases)
    for case in cases:
        cpu = statistics.median(case.cpu)
        print(f"  {case.label:<{width}} {spread(case.samples, ' ms', 0)}, CPU {cpu:.0f} ms")
    out: dict[str, float] = {}
    keyed = ((cases[3], "import"), (cases[4], "init"), (cases[5], "init_tracing"), (cases[6], ""))
    for case, key in keyed:
        med = statistics.median(case.samples)
        wall, net = med / base, (med - bare) / (base - bare)
        cpu = (statistics.median(case.cpu) - bare_cpu) / (base_cpu - bare_cpu)
        goal = f" (goal <= {GOALS[key]})" if key else ""
        print(
            f"  {case.label:<{width}} / baseline: {wall:.2f}x wall, {net:.2f}x net,"
            f" {cpu:.2f}x CPU net{goal}"
        )
        if not key:
            continue
        out[f"cold_{key}_wall"], out[f"cold_{key}_net"] = wall, net
        out[f"cold_{key}_cpu_net"] = cpu
        if key != "import":
            vs_both = (med - bare) / (both - bare)
            out[f"cold_{key}_vs_both"] = vs_both
            print(f"  {'':<{width}} / boto3 + both clients: {vs_both:.2f}x net")
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args(argv)
    run(args.runs)


if __name__ == "__main__":
    main()
