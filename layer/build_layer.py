"""Build the lambda-isr Lambda layer reproducibly, without Docker.

The build itself is ``lambda_isr/layer_build.py`` (next to this script, also behind
``lambda-isr layer``); this script runs it on the repository's copy of the package. Layout
produced under ``--out`` (it becomes ``/opt`` in the function):

    python/                     lambda_isr without its dev tooling (DEV_ONLY) + pinned runtime
                                dependencies (requirements.txt), installed for the target Python
                                and architecture
    python/**/__pycache__/      .pyc compiled by the target Python (unchecked-hash: /opt is
                                read-only and zip timestamps are unreliable)
    lambda-isr-wrapper          the AWS_LAMBDA_EXEC_WRAPPER script (mode 755)

``--zip`` also writes a deterministic zip (sorted entries, fixed timestamps). ``--measure``
prints the sizes and the cold-start import time of a handler from the built layer alone,
against the same layer without .pyc. Used by ``make layer`` and by SAM's makefile build.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# This folder first, so that `lambda_isr` is the package next to this script (also in the temp
# copy of layer/ that SAM's makefile build runs), not another installed copy.
HERE = Path(__file__).resolve().parent
if sys.path[:1] != [str(HERE)]:
    sys.path.insert(0, str(HERE))

from lambda_isr import layer_build  # noqa: E402
from lambda_isr.layer_build import (  # noqa: E402
    DEV_ONLY,
    PACKAGE,
    PLATFORMS,
    LayerBuildError,
    build,
    compile_pyc,
    pip_install,
    write_zip,
)

__all__ = [
    "DEV_ONLY",
    "PACKAGE",
    "PLATFORMS",
    "LayerBuildError",
    "build",
    "compile_pyc",
    "find_python",
    "folder_size",
    "main",
    "measure",
    "pip_install",
    "write_zip",
]

if PACKAGE != HERE / "lambda_isr":
    raise SystemExit(f"build_layer: lambda_isr was imported from {PACKAGE}, not {HERE}")


def find_python(version: str) -> str:
    """:func:`lambda_isr.layer_build.find_python`, exiting if there is none."""
    python = layer_build.find_python(version)
    if python is None:
        raise SystemExit(
            f"build_layer: no python{version} found (needed to compile .pyc for the runtime); "
            f"install it or set LAMBDA_ISR_TARGET_PYTHON"
        )
    return python


def folder_size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def time_import(python: str, paths: list[Path], statement: str, runs: int) -> list[float]:
    """Wall time (ms) of a fresh interpreter that only sees ``paths`` (plus the stdlib)."""
    code = f"import sys; sys.path[:0] = {[str(p) for p in paths]!r}; {statement}"
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONDONTWRITEBYTECODE": "1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "FACETHEORY_CACHE_TABLE_NAME": "bench-table",
        "FACETHEORY_ISR_BUCKET": "bench-bucket",
    }
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([python, "-S", "-c", code], check=True, env=env)
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def fmt(samples: list[float]) -> str:
    low, high = min(samples), max(samples)
    return f"median {statistics.median(samples):6.0f} ms (min {low:.0f}, max {high:.0f})"


def measure(
    out: Path, version: str, arch: str, handler_dir: Path | None, *, statement: str, runs: int
) -> None:
    """Cold start of ``statement`` from the layer alone (plus the handler folder and the
    handler's own requirements, installed for the target like a function package)."""
    python = find_python(version)
    print(f"layer folder: {folder_size(out) / 1e6:.1f} MB unzipped")
    with tempfile.TemporaryDirectory() as tmp:
        extra = [handler_dir] if handler_dir else []
        requirements = handler_dir / "requirements.txt" if handler_dir else None
        if requirements is not None and requirements.is_file():
            deps = Path(tmp) / "deps"
            pip_install(deps, requirements, arch, version)
            compile_pyc(deps, python)
            extra.append(deps)
        bare = time_import(python, [], "pass", runs)
        with_pyc = time_import(python, [out / "python", *extra], statement, runs)
        no_pyc = Path(tmp) / "layer"
        shutil.copytree(out, no_pyc, ignore=shutil.ignore_patterns("__pycache__"))
        without_pyc = time_import(python, [no_pyc / "python", *extra], statement, runs)
    print(f"cold start `{statement}` on python{version}, {runs} runs each:")
    print(f"  bare interpreter      {fmt(bare)}")
    print(f"  layer with .pyc       {fmt(with_pyc)}")
    print(f"  layer without .pyc    {fmt(without_pyc)}")
    ratio = statistics.median(without_pyc) / statistics.median(with_pyc)
    print(f"  without/with .pyc     {ratio:.2f}x")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--arch", choices=sorted(PLATFORMS), default="x86_64")
    parser.add_argument("--python", default="3.13", help="target runtime Python (3.12, 3.13)")
    parser.add_argument("--zip", type=Path, help="also write a deterministic zip here")
    parser.add_argument("--no-pyc", action="store_true", help="skip .pyc (tests only)")
    parser.add_argument("--measure", action="store_true", help="print sizes and cold start")
    parser.add_argument("--handler-dir", type=Path, help="extra sys.path entry for --measure")
    parser.add_argument("--import", dest="statement", default="import lambda_isr.runtime")
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args(argv)
    try:
        out = build(args.out.resolve(), args.arch, args.python, pyc=not args.no_pyc)
        print(f"built layer for python{args.python} {args.arch} in {out}")
        if args.zip:
            zipped = write_zip(out, args.zip.resolve())
            print(f"layer zip: {zipped} {zipped.stat().st_size / 1e6:.1f} MB zipped")
        if args.measure:
            measure(
                out,
                args.python,
                args.arch,
                args.handler_dir,
                statement=args.statement,
                runs=args.runs,
            )
    except LayerBuildError as exc:
        raise SystemExit(f"build_layer: {exc}") from exc
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
