"""``lambda-isr dev [module.function] [--port 3000] [--host 127.0.0.1] [--workers N]
[--task-root DIR] [--reload] [--timeout S]``: serve a handler like a Function URL, streaming.

Before any worker starts, the handler is imported once in a throwaway process (the server
itself never imports user code). If that fails, ``dev`` exits with one line saying why, or,
with ``--reload``, serves the error and waits for the fix.
"""

from __future__ import annotations

import argparse
import errno
import signal
import socket
import sys
from pathlib import Path
from types import FrameType
from typing import Any

from lambda_isr.cli import (
    HANDLER_HELP,
    TASK_ROOT_HELP,
    fail,
    handler_spec,
    module_problem,
    port_number,
    positive_float,
    positive_int,
    task_root_problem,
)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "dev",
        help="serve a handler locally like a Function URL (streaming, embedded store)",
        description="A local Function URL emulator: each request is an invocation on a worker "
        "process running the layer's runtime loop; responses stream chunk by chunk.",
    )
    parser.add_argument(
        "handler", nargs="?", type=handler_spec, default="app.handler", help=HANDLER_HELP
    )
    parser.add_argument("--task-root", type=Path, default=Path("handler"), help=TASK_ROOT_HELP)
    parser.add_argument("--host", default="127.0.0.1", help="the address to listen on")
    parser.add_argument(
        "--port", type=port_number, default=3000, help="the port to listen on; 0 picks a free one"
    )
    parser.add_argument(
        "--workers", type=positive_int, default=2, help="worker processes (sandboxes)"
    )
    parser.add_argument(
        "--timeout", type=positive_float, default=60.0, help="seconds per invocation"
    )
    parser.add_argument(
        "--reload",
        action="store_true",
        help="restart the workers when code or templates change; wait for a fix on errors",
    )
    parser.set_defaults(func=run)


class _StopRequestedError(Exception):
    pass


def _raise_stop(signum: int, frame: FrameType | None) -> None:
    raise _StopRequestedError(signal.Signals(signum).name)


def listen_problem(exc: OSError, host: str, port: int) -> str:
    """Why the server could not listen, and what to pass instead."""
    if isinstance(exc, socket.gaierror) or exc.errno == errno.EADDRNOTAVAIL:
        reason = exc.strerror or str(exc)
        return f"cannot listen on --host {host} ({reason}): use 127.0.0.1, or 0.0.0.0 for all"
    if exc.errno == errno.EADDRINUSE:
        return (
            f"port {port} on {host} is already in use: stop what is using it, or pick another "
            "port with --port (0 picks a free one)"
        )
    if exc.errno == errno.EACCES:
        return f"not allowed to listen on port {port}: pick one above 1023 with --port"
    return str(exc)


def import_problem(handler: str, task_root: Path, error: tuple[str, str]) -> str:
    """One line: the handler, why it cannot be imported, and where to look."""
    kind, message = error
    if kind == "Runtime.HandlerNotFound":
        fix = f"name a function that {handler.rpartition('.')[0]} defines"
    elif kind == "Runtime.ImportModuleError":
        fix = "fix the import or install what it needs"
    else:
        fix = "fix the code"
    return f"cannot import the handler {handler} from {task_root}: {kind}: {message}; {fix}"


def run(args: argparse.Namespace) -> int:
    from lambda_isr.dev.log import DevLog  # noqa: PLC0415 - only when the command runs
    from lambda_isr.dev.runner import DevConfig, DevServer  # noqa: PLC0415

    problem = task_root_problem(args.task_root) or module_problem(args.handler, args.task_root)
    if problem is not None:
        return fail("dev", problem)
    config = DevConfig(
        handler=args.handler,
        task_root=args.task_root,
        host=args.host,
        port=args.port,
        workers=args.workers,
        reload=args.reload,
        timeout=args.timeout,
    )
    log = DevLog(sys.stderr)
    try:
        server = DevServer(config, log)
    except OSError as exc:
        return fail("dev", listen_problem(exc, args.host, args.port), 1)
    except ValueError as exc:
        return fail("dev", str(exc), 1)
    error = server.check_handler()
    if error is not None:
        problem = import_problem(args.handler, server.spec.task_root, error)
        if not args.reload:
            server.stop()
            return fail("dev", f"{problem} (or add --reload to wait for the fix)", 1)
        log.line(f"lambda-isr dev: {problem}; waiting for a fix (--reload)")
    signal.signal(signal.SIGTERM, _raise_stop)
    try:
        server.start()
        log.line(server.banner())
        server.serve_forever()
    except (KeyboardInterrupt, _StopRequestedError):
        log.line("stopping: waiting for the workers to exit")
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the cleanup
        server.stop()
        signal.signal(signal.SIGINT, signal.default_int_handler)
    log.line("stopped")
    return 0
