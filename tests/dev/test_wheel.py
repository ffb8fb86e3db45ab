"""Installing into your own project (issue 17): the wheel ``make dist`` builds installs into a
fresh virtualenv, where ``lambda-isr --version``, ``init``, ``dev`` and ``invoke`` (the new
site's own tests run it) work without this repository."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import zipfile
from pathlib import Path

import pytest

import lambda_isr

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _run(args: list[str], cwd: Path, env: dict[str, str]) -> str:
    done = subprocess.run(
        args, cwd=cwd, env=env, capture_output=True, text=True, timeout=600, check=False
    )
    assert done.returncode == 0, f"{args}\n{done.stdout}\n{done.stderr}"
    return done.stdout


def _wheel(tmp: Path) -> Path:
    """The wheel, built like ``make dist`` but from a copy (no build/ left in the tree)."""
    src = tmp / "src"
    skip = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    shutil.copytree(ROOT / "layer", src / "layer", symlinks=True, ignore=skip)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, src / name)
    build = [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp / "dist")]
    subprocess.run([*build, str(src)], check=True, timeout=600)
    (wheel,) = (tmp / "dist").glob("lambda_isr-*.whl")
    return wheel


def test_the_wheel_installs_into_a_fresh_venv_and_every_command_works(tmp_path: Path) -> None:
    wheel = _wheel(tmp_path)
    names = zipfile.ZipFile(wheel).namelist()
    for needed in (
        "lambda_isr/layer_files/lambda-isr-wrapper",
        "lambda_isr/layer_files/requirements.txt",
        "lambda_isr/site_template/handler/app.py",
        "lambda_isr/site_template/gitignore",
        "lambda_isr/dev/workers.py",
        "lambda_isr/py.typed",
    ):
        assert needed in names, needed
    assert (
        zipfile.ZipFile(wheel).read("lambda_isr/layer_files/requirements.txt")
        == (ROOT / "layer" / "requirements.txt").read_bytes()
    )  # the file, not a link

    venv = tmp_path / "project" / ".venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FACETHEORY_", "LAMBDA_ISR_"))}
    env.pop("PYTHONPATH", None)
    env["PATH"] = f"{venv / 'bin'}:{env.get('PATH', '')}"
    project = venv.parent
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q"]
    _run([*pip, "--disable-pip-version-check", str(wheel), "pytest"], project, env)

    lambda_isr_cli = str(venv / "bin" / "lambda-isr")
    version = _run([lambda_isr_cli, "--version"], project, env)
    assert version.strip() == f"lambda-isr {lambda_isr.__version__}"
    python = str(venv / "bin" / "python")
    where = _run([python, "-c", "import lambda_isr; print(lambda_isr.__file__)"], project, env)
    assert where.startswith(str(venv))  # the installed copy, not this repository

    _run([lambda_isr_cli, "init", "site"], project, env)
    site = project / "site"
    tests = _run([python, "-m", "pytest", "-q", "-p", "no:cacheprovider"], site, env)
    assert "4 passed" in tests  # one of them runs `lambda-isr invoke` through the runtime loop

    port = _free_port()
    env["LAMBDA_ISR_DIR"] = str(tmp_path / "store")
    dev = subprocess.Popen(
        [lambda_isr_cli, "dev", "--port", str(port), "--workers", "1"],
        cwd=site, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        body, deadline = b"", time.monotonic() + 60
        while time.monotonic() < deadline and dev.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/posts/hello-world") as r:
                    body, cache = r.read(), r.headers["x-isr-cache"]
                break
            except OSError:
                time.sleep(0.2)
    finally:
        dev.terminate()
        _, err = dev.communicate(timeout=30)
    assert b"The first post of Site." in body, err
    assert cache == "miss"
