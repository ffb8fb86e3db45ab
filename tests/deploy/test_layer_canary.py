"""The layer canary: build the layer for the Lambda runtime (python3.13, x86_64, .pyc) into a
temp folder, then start the runtime through the shipped wrapper the way Lambda does, with a
PYTHONPATH holding only the layer's folder, the demo handler and its own dependency (jinja2),
against the fake Runtime API. A request streams back: the layer is self-contained."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from lambda_isr.runtime.recording import StreamEnd
from tests.app.assets_support import ensure_frontend
from tests.support.fake_runtime_api import FakeRuntimeApi

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "layer"))
import build_layer  # noqa: E402

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("canary")
    build_layer.build(root / "opt", "x86_64", "3.13")
    deps = root / "task"
    ensure_frontend()  # the function ships the Vite manifest, not the front end or its assets
    skip = shutil.ignore_patterns("__pycache__", "frontend", "assets", "Makefile")
    shutil.copytree(REPO / "handler", deps, ignore=skip)
    build_layer.pip_install(deps, REPO / "handler" / "requirements.txt", "x86_64", "3.13")
    return root


def test_layer_contents(built: Path) -> None:
    python_dir = built / "opt" / "python"
    assert (built / "opt" / "lambda-isr-wrapper").stat().st_mode & 0o777 == 0o755
    assert not list(python_dir.glob("awscrt*"))
    assert list((python_dir / "lambda_isr" / "__pycache__").glob("*.cpython-313.pyc"))
    assert (python_dir / "boto3").is_dir()


@pytest.fixture
def runtime(built: Path, tmp_path: Path) -> Iterator[FakeRuntimeApi]:
    python = build_layer.find_python("3.13")
    with FakeRuntimeApi() as api:
        env = {
            "PATH": "/usr/bin:/bin",
            "AWS_LAMBDA_RUNTIME_API": api.address,
            "_HANDLER": "app.handler",
            "LAMBDA_TASK_ROOT": str(built / "task"),
            "PYTHONPATH": str(built / "opt" / "python"),
            "LAMBDA_ISR_DIR": str(tmp_path / "store"),
            "DEMO_DATA_DELAY": "0.3",
            "POWERTOOLS_SERVICE_NAME": "canary",
        }
        with (tmp_path / "out.log").open("wb") as log:
            process = subprocess.Popen(
                [str(built / "opt" / "lambda-isr-wrapper"), python, "/var/runtime/bootstrap.py"],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            try:
                yield api
            finally:
                if process.poll() is None:
                    os.kill(process.pid, signal.SIGTERM)
                process.wait(10)


def _event(path: str) -> dict[str, object]:
    event = json.loads((REPO / "events" / "get.json").read_text())
    assert isinstance(event, dict)
    event["rawPath"] = path
    event["requestContext"]["http"]["path"] = path
    return event


def test_a_page_streams_back_from_the_built_layer(runtime: FakeRuntimeApi) -> None:
    first = runtime.enqueue(_event("/posts/hello-world")).wait(60)
    assert first.prelude is not None
    assert first.prelude.status == 200
    assert first.prelude.headers["x-isr-cache"] == "miss"
    assert isinstance(first.final, StreamEnd)
    assert first.final.error_type is None
    chunks = first.body_chunks
    assert b"<!doctype html>" in chunks[0].data
    # the head left before the slow data source answered
    assert chunks[-1].at - chunks[0].at >= 0.25
    assert b"Hello, streaming world" in first.body
    second = runtime.enqueue(_event("/posts/hello-world")).wait(60)
    assert second.prelude is not None
    assert second.prelude.headers["x-isr-cache"] == "hit"
    assert second.body == first.body
