"""Shared helpers for the benchmarks: statistics lines, the machine line, quiet observability,
and the local AWS endpoints (DynamoDB Local, moto's S3 server in its own process)."""

from __future__ import annotations

import io
import os
import platform
import signal
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

REPO = Path(__file__).resolve().parents[1]
REGION = "us-east-1"


def machine_line() -> str:
    load = os.getloadavg() if hasattr(os, "getloadavg") else (0.0, 0.0, 0.0)
    return (
        f"machine: {os.cpu_count()} cpus, python {platform.python_version()} "
        f"({platform.python_implementation()}), {platform.platform()}, "
        f"load avg {load[0]:.2f}/{load[1]:.2f}/{load[2]:.2f}"
    )


def spread(samples: Sequence[float], unit: str = "", digits: int = 3) -> str:
    """``median X (min A, max B, n=N)``."""
    med = statistics.median(samples)
    return (
        f"median {med:.{digits}f}{unit} (min {min(samples):.{digits}f}, "
        f"max {max(samples):.{digits}f}, n={len(samples)})"
    )


def percentile(samples: Sequence[float], q: float) -> float:
    """Nearest-rank percentile, ``q`` in [0, 100]."""
    ordered = sorted(samples)
    if not ordered:
        return float("nan")
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


class NullStream(io.TextIOBase):
    """A text sink: log lines and EMF metrics are formatted (their cost counts), then dropped."""

    def write(self, s: str) -> int:
        return len(s)

    def writable(self) -> bool:
        return True


NULL = NullStream()


def quiet_observability() -> dict[str, Any]:
    """``isr_face`` keyword arguments: Powertools logger and metrics writing to a sink.

    Metrics print with ``print()``; callers wrap timed code in ``redirect_stdout(NULL)``."""
    from aws_lambda_powertools import Logger, Metrics  # noqa: PLC0415

    return {
        "logger": Logger(service="bench", stream=cast("IO[str]", NULL)),
        "metrics": Metrics(service="bench", namespace="Bench"),
        "tracing": False,
    }


def free_port() -> int:
    import socket  # noqa: PLC0415

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def ddb_local() -> Iterator[Any]:
    """DynamoDB Local (``make ddb-local``), in memory, for the block."""
    sys.path.insert(0, str(REPO))
    from tests.support.ddb_local import DynamoDbLocal  # noqa: PLC0415

    server = DynamoDbLocal()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@contextmanager
def moto_s3_server() -> Iterator[str]:
    """moto's server in its own process (real HTTP, not sharing the benchmark's GIL)."""
    port = free_port()
    code = (
        "import sys, time\n"
        "from moto.server import ThreadedMotoServer\n"
        f"s = ThreadedMotoServer(ip_address='127.0.0.1', port={port}, verbose=False)\n"
        "s.start()\n"
        "print('ready', flush=True)\n"
        "sys.stdin.read()\n"
        "s.stop()\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if b"ready" not in line:
            raise RuntimeError("moto server did not start")
        yield f"http://127.0.0.1:{port}"
    finally:
        if proc.stdin is not None:
            proc.stdin.close()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)


def s3_client(endpoint: str) -> S3Client:
    import boto3  # noqa: PLC0415
    from botocore.config import Config  # noqa: PLC0415

    client: S3Client = boto3.session.Session().client(
        "s3",
        region_name=REGION,
        endpoint_url=endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(max_pool_connections=64, retries={"max_attempts": 2, "mode": "standard"}),
    )
    return client


def new_bucket(client: S3Client) -> str:
    name = f"isr-bench-{uuid.uuid4().hex[:10]}"
    client.create_bucket(Bucket=name)
    return name


class Timer:
    def __init__(self) -> None:
        self.began = time.perf_counter()

    def elapsed(self) -> float:
        return time.perf_counter() - self.began
