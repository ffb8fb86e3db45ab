"""The runtime as Lambda starts it: a subprocess launched by the exec wrapper script."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from lambda_isr.runtime.recording import BufferedResult, InvocationErrorEvent, StreamEnd
from tests.support.fake_runtime_api import FakeRuntimeApi

REPO = Path(__file__).resolve().parents[2]
LAYER = REPO / "layer"
WRAPPER = LAYER / "lambda-isr-wrapper"

HANDLER_SOURCE = """
import json, os, sys, time
from lambda_isr.runtime.stream import StreamingResponse, streaming

def plain(event, context):
    heavy = [m for m in ("boto3", "botocore", "lambda_isr.store", "lambda_isr.isr")
             if m in sys.modules]
    return {"heavy": heavy, "pythonpath": os.environ["PYTHONPATH"], "argv0": sys.argv[0],
            "remaining": context.get_remaining_time_in_millis()}

@streaming
def stream(event, context):
    yield "first"
    time.sleep(0.3)
    yield "second"

def mixed(event, context):
    if event["n"] % 2:
        return StreamingResponse(headers={"x-n": str(event["n"])}, body=["a" * 100, "b"])
    return {"n": event["n"]}
"""


@pytest.fixture
def task_root(tmp_path: Path) -> Path:
    (tmp_path / "app.py").write_text(HANDLER_SOURCE)
    return tmp_path


@contextmanager
def runtime_process(
    api: FakeRuntimeApi, task_root: Path, handler: str, **extra: str
) -> Iterator[subprocess.Popen[bytes]]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "AWS_LAMBDA_RUNTIME_API": api.address,
        "_HANDLER": handler,
        "LAMBDA_TASK_ROOT": str(task_root),
        "LAMBDA_RUNTIME_DIR": str(task_root / "runtime-dir"),
        "PYTHONPATH": str(LAYER),  # only the layer's directories
        **extra,
    }
    with (task_root / "stdout.log").open("wb") as log:
        process = subprocess.Popen(
            [str(WRAPPER), sys.executable, "/var/runtime/bootstrap.py"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            yield process
        finally:
            if process.poll() is None:
                os.kill(process.pid, signal.SIGTERM)
            process.wait(10)


def test_wrapper_is_executable() -> None:
    assert stat.S_IMODE(WRAPPER.stat().st_mode) == 0o755


def test_wrapper_starts_the_loop_and_streams(api: FakeRuntimeApi, task_root: Path) -> None:
    with runtime_process(api, task_root, "app.stream"):
        pending = api.enqueue({"rawPath": "/"}).wait(20)
    first, second = pending.body_chunks
    assert (first.data, second.data) == (b"first", b"second")
    assert second.at - first.at >= 0.25
    assert isinstance(pending.final, StreamEnd)


def test_plain_handler_cold_starts_without_boto3(api: FakeRuntimeApi, task_root: Path) -> None:
    with runtime_process(api, task_root, "app.plain", AWS_EXECUTION_ENV="AWS_Lambda_python3.13"):
        final = api.enqueue({}).wait(20).final
    assert isinstance(final, BufferedResult)
    result = final.json()
    assert result["heavy"] == []
    assert result["pythonpath"].split(":") == [
        str(task_root),
        "/opt/python/lib/python3.13/site-packages",
        "/opt/python",
        str(LAYER),
        str(task_root / "runtime-dir"),
    ]
    assert result["remaining"] > 800_000


def test_init_error_exits_non_zero(api: FakeRuntimeApi, task_root: Path) -> None:
    with runtime_process(api, task_root, "app.nope") as process:
        assert process.wait(20) == 1
    [(error_type, payload)] = api.init_errors
    assert error_type == "Runtime.HandlerNotFound"
    assert "nope" in payload["errorMessage"]


def test_stock_opt_out_runs_the_original_command(tmp_path: Path) -> None:
    code = "import os, sys; print(sys.argv[1:], os.environ.get('PYTHONPATH'))"
    out = subprocess.run(
        [str(WRAPPER), sys.executable, "-c", code, "a b", "c"],
        env={"LAMBDA_ISR_RUNTIME": "stock", "PYTHONPATH": "/orig", "PATH": os.environ["PATH"]},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert out == "['a b', 'c'] /orig\n"


def _fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def _rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def _run_batch(api: FakeRuntimeApi, start: int, count: int) -> None:
    # No trace ids here: glibc's setenv() never frees replaced values, so setting a new
    # _X_AMZN_TRACE_ID per invocation (as awslambdaric does too) grows RSS ~140 B each.
    pendings = [api.enqueue({"n": n}, trace_id="") for n in range(start, start + count)]
    for pending in pendings:
        final = pending.wait(30).final
        assert not isinstance(final, InvocationErrorEvent), final
        del api.invocations[pending.request_id]


@pytest.mark.slow
def test_two_thousand_invocations_without_leaking(api: FakeRuntimeApi, task_root: Path) -> None:
    api.keep_requests = False
    with runtime_process(api, task_root, "app.mixed") as process:
        # Warm-up: CPython's tuple free lists keep up to 2,000 tuples per size, which shows
        # as ~250 KB of RSS growth over the first ~2,000 invocations, then none.
        _run_batch(api, 0, 2500)
        fds, rss = _fds(process.pid), _rss_kb(process.pid)
        started = time.monotonic()
        _run_batch(api, 2500, 2000)
        elapsed = time.monotonic() - started
        assert _fds(process.pid) == fds
        growth = _rss_kb(process.pid) - rss
    assert growth < 128, f"RSS grew by {growth} KB over 2,000 invocations"
    assert elapsed < 60
