"""Build the lambda-isr Lambda layer reproducibly, without Docker.

Layout produced under ``--out`` (it becomes ``/opt`` in the function):

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
import glob
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
PACKAGE = HERE / "lambda_isr"
WRAPPER = HERE / "lambda-isr-wrapper"
REQUIREMENTS = HERE / "requirements.txt"
PLATFORMS = {"x86_64": "manylinux2014_x86_64", "arm64": "manylinux2014_aarch64"}
FORBIDDEN = ("awscrt",)
# Dev tooling: in the repository and in the wheel, never in the layer, because nothing that runs
# in Lambda uses it. Paths relative to lambda_isr/; a folder drops the whole subpackage. No module
# left in the layer may import one of these (tests/deploy/test_layer_contents.py checks it).
DEV_ONLY = (
    "dev",  # `lambda-isr dev`: the local dev server
    "testing",  # FakeClock and other test tooling
    "cli.py",  # the `lambda-isr` command line
    "runtime/local_api.py",  # the in-process Runtime API for tests and local runs
    "runtime/local_invoke.py",  # `lambda-isr invoke`
    "runtime/recording.py",  # recorded invocations, for local_api
    "store/faults.py",  # fault injection
    "layer_build.py",  # `lambda-isr layer`
    "layer_files",  # what `lambda-isr layer` copies (the wrapper, the pinned requirements)
    "init_site.py",  # `lambda-isr init`
    "site_template",  # the files `lambda-isr init` writes
    "assets_cli.py",  # `lambda-isr publish-assets`
)
ZIP_EPOCH = (2020, 1, 1, 0, 0, 0)


def find_python(version: str) -> str:
    """An interpreter of the target version: PATH first, then pyenv's versions folder."""
    explicit = os.environ.get("LAMBDA_ISR_TARGET_PYTHON")
    if explicit:
        return explicit
    pyenv_root = os.environ.get("PYENV_ROOT", str(Path.home() / ".pyenv"))
    candidates = [shutil.which(f"python{version}") or ""]
    candidates += sorted(glob.glob(f"{pyenv_root}/versions/{version}*/bin/python{version}"))
    for candidate in filter(None, candidates):
        # a pyenv shim is on PATH even when that version is not selected: check it runs
        probe = subprocess.run([candidate, "-c", "pass"], capture_output=True, check=False)
        if probe.returncode == 0:
            return candidate
    raise SystemExit(
        f"build_layer: no python{version} found (needed to compile .pyc for the runtime); "
        f"install it or set LAMBDA_ISR_TARGET_PYTHON"
    )


def pip_install(target: Path, requirements: Path, arch: str, version: str) -> None:
    cmd = [
        sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
        "--no-compile", "--target", str(target), "--requirement", str(requirements),
        "--platform", PLATFORMS[arch], "--implementation", "cp",
        "--python-version", version, "--only-binary=:all:", "--upgrade",
    ]  # fmt: skip
    subprocess.run(cmd, check=True)


def _skip(directory: str, names: list[str]) -> set[str]:
    """copytree's ``ignore``: caches, and the dev tooling listed in DEV_ONLY."""
    here = Path(directory).relative_to(PACKAGE)
    return {
        name
        for name in names
        if name == "__pycache__" or name.endswith(".pyc") or (here / name).as_posix() in DEV_ONLY
    }


def copy_package(dest: Path) -> None:
    shutil.copytree(PACKAGE, dest / "lambda_isr", ignore=_skip)


def prune(python_dir: Path) -> None:
    for name in FORBIDDEN:
        for path in python_dir.glob(f"{name}*"):
            shutil.rmtree(path) if path.is_dir() else path.unlink()
    shutil.rmtree(python_dir / "bin", ignore_errors=True)
    for cache in python_dir.rglob("__pycache__"):
        shutil.rmtree(cache)


def compile_pyc(python_dir: Path, target_python: str) -> None:
    subprocess.run(
        [target_python, "-m", "compileall", "-q", "-j", "0",
         "--invalidation-mode", "unchecked-hash", str(python_dir)],
        check=True,
    )  # fmt: skip


def build(out: Path, arch: str, version: str, *, pyc: bool = True) -> Path:
    if out.exists():
        shutil.rmtree(out)
    python_dir = out / "python"
    python_dir.mkdir(parents=True)
    pip_install(python_dir, REQUIREMENTS, arch, version)
    copy_package(python_dir)
    prune(python_dir)
    shutil.copy2(WRAPPER, out / "lambda-isr-wrapper")
    (out / "lambda-isr-wrapper").chmod(0o755)
    if pyc:
        compile_pyc(python_dir, find_python(version))
    leaked = [p for p in python_dir.iterdir() if p.name.startswith(FORBIDDEN)]
    if leaked:
        raise SystemExit(f"build_layer: forbidden packages in the layer: {leaked}")
    dev = [path for path in DEV_ONLY if (python_dir / "lambda_isr" / path).exists()]
    if dev:
        raise SystemExit(f"build_layer: dev tooling in the layer: {dev}")
    return out


def write_zip(folder: Path, zip_path: Path) -> Path:
    zip_path.parent.mkdir(parents=True, exist_ok=True)
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    with zipfile.ZipFile(zip_path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for path in files:
            info = zipfile.ZipInfo(str(path.relative_to(folder)), ZIP_EPOCH)
            mode = 0o755 if os.access(path, os.X_OK) else 0o644
            info.external_attr = (0o100000 | mode) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, path.read_bytes())
    return zip_path


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
    out = build(args.out.resolve(), args.arch, args.python, pyc=not args.no_pyc)
    print(f"built layer for python{args.python} {args.arch} in {out}")
    if args.zip:
        zipped = write_zip(out, args.zip.resolve())
        print(f"layer zip: {zipped} {zipped.stat().st_size / 1e6:.1f} MB zipped")
    if args.measure:
        measure(
            out, args.python, args.arch, args.handler_dir, statement=args.statement, runs=args.runs
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
