"""The Lambda layer build, and ``lambda-isr layer --out DIR`` that runs it from the package.

This module is the one implementation of the layer build: ``lambda-isr layer`` runs it from the
package it is installed with, and the repository's ``layer/build_layer.py`` (``make layer``,
SAM's makefile build, tests and benches) is a thin script over it that adds its measuring code.
Without Docker, it writes:

    DIR/python/lambda_isr        the package without its dev tooling (:data:`DEV_ONLY`)
    DIR/python/<dependencies>    the pinned runtime dependencies (``layer_files/requirements.txt``)
                                 installed for the target Python and architecture
    DIR/python/**/__pycache__    .pyc compiled by the target Python (unchecked-hash: /opt is
                                 read-only and zip timestamps are unreliable)
    DIR/lambda-isr-wrapper       the AWS_LAMBDA_EXEC_WRAPPER script (mode 755)

Point a template's ``AWS::Serverless::LayerVersion`` at ``DIR`` (``ContentUri``), as the
template ``lambda-isr init`` writes does.
"""

from __future__ import annotations

import argparse
import glob
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import lambda_isr
from lambda_isr.store._models import write_models

PACKAGE = Path(lambda_isr.__file__).resolve().parent
FILES = PACKAGE / "layer_files"
WRAPPER = FILES / "lambda-isr-wrapper"
REQUIREMENTS = FILES / "requirements.txt"
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


class LayerBuildError(Exception):
    """One line: what went wrong and what to do."""


def find_python(version: str) -> str | None:
    """An interpreter of the target version: ``LAMBDA_ISR_TARGET_PYTHON``, ``PATH``, pyenv."""
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
    return None


def pip_install(target: Path, requirements: Path, arch: str, version: str) -> None:
    """Install ``requirements`` into ``target`` for the Lambda platform (wheels only)."""
    cmd = [
        sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
        "--no-compile", "--target", str(target), "--requirement", str(requirements),
        "--platform", PLATFORMS[arch], "--implementation", "cp",
        "--python-version", version, "--only-binary=:all:", "--upgrade",
    ]  # fmt: skip
    if subprocess.run(cmd, check=False).returncode != 0:
        raise LayerBuildError(f"pip could not install {requirements} (see above)")


def _skip(directory: str, names: list[str]) -> set[str]:
    """copytree's ``ignore``: caches, and the dev tooling listed in DEV_ONLY."""
    here = Path(directory).relative_to(PACKAGE)
    return {
        name
        for name in names
        if name == "__pycache__" or name.endswith(".pyc") or (here / name).as_posix() in DEV_ONLY
    }


def copy_package(dest: Path) -> None:
    """Copy :data:`PACKAGE` to ``dest/lambda_isr``, without caches nor :data:`DEV_ONLY`."""
    shutil.copytree(PACKAGE, dest / "lambda_isr", ignore=_skip)


def prune(python_dir: Path) -> None:
    """Drop the :data:`FORBIDDEN` packages, pip's ``bin`` folder and every ``__pycache__``."""
    for name in FORBIDDEN:
        for path in python_dir.glob(f"{name}*"):
            shutil.rmtree(path) if path.is_dir() else path.unlink()
    shutil.rmtree(python_dir / "bin", ignore_errors=True)
    for cache in python_dir.rglob("__pycache__"):
        shutil.rmtree(cache)


def compile_pyc(python_dir: Path, target_python: str) -> None:
    """Compile every module under ``python_dir`` with ``target_python`` (unchecked-hash .pyc)."""
    subprocess.run(
        [target_python, "-m", "compileall", "-q", "-j", "0",
         "--invalidation-mode", "unchecked-hash", str(python_dir)],
        check=True,
    )  # fmt: skip


def build(out: Path, arch: str = "x86_64", version: str = "3.13", *, pyc: bool = True) -> Path:
    """Build the layer folder ``out`` (replaced if it exists); raises :class:`LayerBuildError`."""
    target_python = find_python(version) if pyc else None
    if pyc and target_python is None:
        raise LayerBuildError(
            f"no python{version} found to compile the layer's .pyc: install it, set "
            "LAMBDA_ISR_TARGET_PYTHON to one, or pass --no-pyc (slower cold starts)"
        )
    if out.exists():
        shutil.rmtree(out)
    python_dir = out / "python"
    python_dir.mkdir(parents=True)
    pip_install(python_dir, REQUIREMENTS, arch, version)
    copy_package(python_dir)
    prune(python_dir)
    write_models(python_dir)  # the store's trimmed botocore data (lambda_isr.store._models)
    shutil.copyfile(WRAPPER, out / "lambda-isr-wrapper")
    (out / "lambda-isr-wrapper").chmod(0o755)
    if target_python is not None:
        compile_pyc(python_dir, target_python)
    leaked = [p for p in python_dir.iterdir() if p.name.startswith(FORBIDDEN)]
    if leaked:
        raise LayerBuildError(f"forbidden packages in the layer: {leaked}")
    dev = [path for path in DEV_ONLY if (python_dir / "lambda_isr" / path).exists()]
    if dev:
        raise LayerBuildError(f"dev tooling in the layer: {dev}")
    return out


def write_zip(folder: Path, zip_path: Path) -> Path:
    """A deterministic zip of ``folder`` (sorted entries, fixed timestamps, modes kept)."""
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


def register(subparsers: Any) -> None:
    """Add ``lambda-isr layer --out DIR``."""
    from lambda_isr.cli import fail  # noqa: PLC0415 - the CLI imports this module

    parser = subparsers.add_parser(
        "layer",
        help="build the Lambda layer from the installed package",
        description="Build the lambda-isr layer folder (and optionally its zip) from the "
        "installed package, for a python3.12/3.13 runtime, without Docker.",
    )
    parser.add_argument("--out", type=Path, required=True, help="the layer folder to write")
    parser.add_argument("--arch", choices=sorted(PLATFORMS), default="x86_64")
    parser.add_argument("--python", default="3.13", help="the function's runtime Python")
    parser.add_argument("--zip", type=Path, help="also write a deterministic zip here")
    parser.add_argument("--no-pyc", action="store_true", help="skip .pyc (slower cold starts)")

    def run(args: argparse.Namespace) -> int:
        if args.python not in ("3.12", "3.13"):
            return fail("layer", f"--python {args.python}: use 3.12 or 3.13 (Lambda runtimes)")
        try:
            out = build(args.out.resolve(), args.arch, args.python, pyc=not args.no_pyc)
        except LayerBuildError as exc:
            return fail("layer", str(exc), 1)
        print(f"built the lambda-isr layer for python{args.python} {args.arch} in {out}")
        if args.zip:
            zipped = write_zip(out, args.zip.resolve())
            print(f"layer zip: {zipped} ({zipped.stat().st_size / 1e6:.1f} MB)")
        return 0

    parser.set_defaults(func=run)
