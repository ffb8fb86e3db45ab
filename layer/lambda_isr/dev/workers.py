"""One dev worker: a local Runtime API plus a child process started the way Lambda starts the
layer (``lambda-isr-wrapper <python> /var/runtime/bootstrap.py`` -> ``python -m
lambda_isr.runtime``), one invocation at a time, like a sandbox.

Children never outlive the server: each runs in its own process group (killed as a group),
asks the kernel for SIGKILL when its parent dies (``PR_SET_PDEATHSIG``: workers are spawned
from one long-lived supervisor thread, so "parent" is that thread), and the pool stops them
at exit.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import lambda_isr
from lambda_isr.dev.log import DevLog, compact_worker_line
from lambda_isr.runtime.local_api import LocalRuntimeApi
from lambda_isr.settings import ENV_ERROR_BANNER

LAYER_DIR = Path(lambda_isr.__file__).resolve().parent.parent
WRAPPER = Path(lambda_isr.__file__).resolve().parent / "layer_files" / "lambda-isr-wrapper"
"""The layer's exec wrapper (in the repository, a link to ``layer/lambda-isr-wrapper``; in an
installed wheel, a copy, which may have lost its exec bit: it is then run with ``/bin/sh``)."""
BOOTSTRAP = "/var/runtime/bootstrap.py"  # what Lambda passes to the wrapper; never opened
FUNCTION_NAME = "lambda-isr-dev"
_PR_SET_PDEATHSIG = 1
_CHECK_MARK = "lambda-isr-import-check:"
# Imports the handler the way the runtime loop does, in a throwaway process (the dev server
# itself never imports user code), and prints the outcome on a marked last line. An exception
# raised while importing is located at its innermost frame in the task root.
_CHECK = """
import json, sys, traceback
from lambda_isr.errors import HandlerLoadError
from lambda_isr.runtime.loader import load_handler
handler, root, mark = sys.argv[1:4]
namespace = None
try:
    loaded = load_handler(handler, root)
    problem = None
    from lambda_isr.namespace import SOURCE_ATTRIBUTE, effective_namespace
    source = getattr(loaded, SOURCE_ATTRIBUTE, None)
    namespace = effective_namespace(source=source if isinstance(source, str) else None)
except HandlerLoadError as exc:
    problem = [exc.error_type, str(exc)]
except BaseException as exc:
    frames = traceback.extract_tb(exc.__traceback__)
    mine = [f for f in frames if f.filename.startswith(root + "/")] or frames
    where = f" ({mine[-1].filename}, line {mine[-1].lineno})" if mine else ""
    problem = [type(exc).__name__, f"{exc}{where}"]
sys.stdout.flush()
print("\\n" + mark + json.dumps({"problem": problem, "namespace": namespace}), flush=True)
"""


@dataclass(frozen=True)
class WorkerSpec:
    """What every worker runs and with which environment."""

    handler: str
    task_root: Path
    store_dir: Path
    base_env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    timeout: float = 60.0
    memory_mb: int = 1024
    wrapper: Path = WRAPPER
    python: str = sys.executable

    def environ(self, api_address: str) -> dict[str, str]:
        """The child's environment: the caller's, plus what Lambda sets in a sandbox."""
        env = dict(self.base_env)
        version = f"python{sys.version_info.major}.{sys.version_info.minor}"
        region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1"
        inherited = env.get("PYTHONPATH")
        env.update(
            {
                "AWS_LAMBDA_RUNTIME_API": api_address,
                "_HANDLER": self.handler,
                "LAMBDA_TASK_ROOT": str(self.task_root),
                # The wrapper puts the task root first, then this: the layer (lambda_isr).
                "PYTHONPATH": f"{LAYER_DIR}:{inherited}" if inherited else str(LAYER_DIR),
                "AWS_EXECUTION_ENV": f"AWS_Lambda_{version}",
                "AWS_LAMBDA_FUNCTION_NAME": env.get("AWS_LAMBDA_FUNCTION_NAME", FUNCTION_NAME),
                "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(self.memory_mb),
                "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
                "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{FUNCTION_NAME}",
                "AWS_LAMBDA_LOG_STREAM_NAME": "local/[$LATEST]dev",
                "AWS_REGION": region,
                "AWS_DEFAULT_REGION": env.get("AWS_DEFAULT_REGION", region),
                # AWS_LAMBDA_FUNCTION_NAME would send the embedded store to /tmp/lambda-isr:
                # every worker must share the project's store instead.
                "LAMBDA_ISR_DIR": str(self.store_dir),
                "PYTHONUNBUFFERED": "1",
            }
        )
        # A late failure shows a visible banner in the page (unless the caller chose).
        env.setdefault(ENV_ERROR_BANNER, "1")
        return env


@dataclass(frozen=True, slots=True)
class HandlerCheck:
    """What importing the handler once, as a worker would, told."""

    problem: tuple[str, str] | None
    """``(errorType, errorMessage)`` with the stock runtime's types; None when it imports."""
    namespace: str | None = None
    """The embedded store namespace the handler's pages go to (None: the store's root)."""


def check_import(spec: WorkerSpec, timeout: float = 60.0) -> tuple[str, str] | None:
    """Import the handler as a worker would, in a subprocess with the worker's environment.

    None when it imports; else ``(errorType, errorMessage)`` with the stock runtime's types.
    """
    return inspect_handler(spec, timeout).problem


def inspect_handler(spec: WorkerSpec, timeout: float = 60.0) -> HandlerCheck:
    """:func:`check_import`, plus the store namespace the imported handler uses."""
    command = [spec.python, "-c", _CHECK, spec.handler, str(spec.task_root), _CHECK_MARK]
    try:
        done = subprocess.run(
            command,
            env=spec.environ("127.0.0.1:9"),  # never called while importing
            cwd=spec.task_root,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        late = f"importing {spec.handler} took longer than {timeout:g}s"
        return HandlerCheck(("Runtime.InitTimeout", late))
    out = done.stdout.decode("utf-8", "replace")
    marked = [line for line in out.splitlines() if line.startswith(_CHECK_MARK)]
    if not marked:
        tail = done.stderr.decode("utf-8", "replace").strip().splitlines()[-1:]
        detail = f": {tail[0]}" if tail else ""
        exited = f"importing exited with status {done.returncode}{detail}"
        return HandlerCheck(("Runtime.ExitError", exited))
    report = json.loads(marked[-1].removeprefix(_CHECK_MARK))
    namespace = report.get("namespace")
    namespace = namespace if isinstance(namespace, str) else None
    if report.get("problem") is None:
        return HandlerCheck(None, namespace)
    kind, message = report["problem"]
    return HandlerCheck((str(kind), " ".join(str(message).split())))  # one line


def _wrapper_command(wrapper: Path) -> list[str]:
    return [str(wrapper)] if os.access(wrapper, os.X_OK) else ["/bin/sh", str(wrapper)]


def _parent_death_hook() -> Callable[[], None] | None:
    """A ``preexec_fn`` that makes the child die with its parent (Linux only)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        prctl = libc.prctl
    except (OSError, AttributeError):
        return None
    parent = os.getpid()

    def hook() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent:  # the parent died before the hook ran
            os._exit(1)

    return hook


_DEATH_HOOK = _parent_death_hook()


class Worker:
    """A running worker. ``index`` is its slot (1-based), ``generation`` its reload epoch."""

    def __init__(self, spec: WorkerSpec, index: int, generation: int, log: DevLog) -> None:
        self.index = index
        self.generation = generation
        self.invoked = False
        self.exit_reported = False
        self.served = 0
        self._log = log
        self.api = LocalRuntimeApi(default_timeout_ms=int(spec.timeout * 1000))
        self.api.keep_requests = False
        self.api.start()
        try:
            self.process = subprocess.Popen(
                [*_wrapper_command(spec.wrapper), spec.python, BOOTSTRAP],
                env=spec.environ(self.api.address),
                cwd=spec.task_root,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # own process group; Ctrl-C reaches only the server
                preexec_fn=_DEATH_HOOK,  # noqa: PLW1509 - spawned from one supervisor thread
            )
        except OSError:
            self.api.stop()
            raise
        assert self.process.stdout is not None
        self._forwarder = threading.Thread(
            target=self._forward, args=(self.process.stdout,), daemon=True
        )
        self._forwarder.start()

    @property
    def pid(self) -> int:
        return self.process.pid

    def exit_code(self) -> int | None:
        return self.process.poll()

    def init_error(self) -> tuple[str, str] | None:
        """``(errorType, errorMessage)`` of the last ``/runtime/init/error`` post, if any."""
        if not self.api.init_errors:
            return None
        error_type, payload = self.api.init_errors[-1]
        kind = error_type or str(payload.get("errorType") or "Runtime.Unknown")
        return kind, str(payload.get("errorMessage") or "")

    def describe_exit(self) -> str:
        """Lambda's wording for a runtime that went away."""
        code = self.exit_code()
        if code is None:
            return "Runtime is still running"
        if code < 0:
            with contextlib.suppress(ValueError):
                return f"Runtime exited with error: signal: {signal.Signals(-code).name}"
        return f"Runtime exited with error: exit status {code}"

    def kill(self) -> None:
        """SIGKILL the whole process group now (a timed-out sandbox) and reap the child."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(5)

    def stop(self, grace: float = 1.0) -> None:
        """Terminate the group, reap the child, stop the local API. Idempotent."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(grace)
        self.kill()  # and anything the handler left behind in the group
        self.api.stop()
        self._forwarder.join(2)

    def _forward(self, stream: IO[bytes]) -> None:
        prefix = f"[worker {self.index}] "
        with stream:
            for raw in iter(stream.readline, b""):
                line = raw.decode("utf-8", "replace").rstrip("\r\n")
                notice = self._log.notices.check_line(line)
                if notice is not None:
                    self._log.line(notice)
                shown = compact_worker_line(line)
                if shown is not None:
                    self._log.line("\n".join(prefix + line for line in shown.split("\n")))
