"""``lambda-isr dev [module.function] [--port 3000] [--host 127.0.0.1] [--workers N]
[--task-root DIR] [--reload] [--timeout S]``: serve a handler like a Function URL, streaming."""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path
from types import FrameType
from typing import Any


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "dev",
        help="serve a handler locally like a Function URL (streaming, embedded store)",
        description="A local Function URL emulator: each request is an invocation on a worker "
        "process running the layer's runtime loop; responses stream chunk by chunk.",
    )
    parser.add_argument("handler", nargs="?", default="app.handler", help="module.function")
    parser.add_argument("--task-root", type=Path, default=Path("handler"), help="code directory")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=3000, help="0 picks a free port")
    parser.add_argument("--workers", type=int, default=2, help="worker processes (sandboxes)")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per invocation")
    parser.add_argument(
        "--reload", action="store_true", help="restart the workers when code or templates change"
    )
    parser.set_defaults(func=run)


class _StopRequestedError(Exception):
    pass


def _raise_stop(signum: int, frame: FrameType | None) -> None:
    raise _StopRequestedError(signal.Signals(signum).name)


def run(args: argparse.Namespace) -> int:
    from lambda_isr.dev.log import DevLog  # noqa: PLC0415 - only when the command runs
    from lambda_isr.dev.runner import DevConfig, DevServer  # noqa: PLC0415

    if args.workers < 1:
        print("lambda-isr dev: --workers must be at least 1", file=sys.stderr)
        return 2
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
    except (OSError, ValueError) as exc:
        print(f"lambda-isr dev: {exc}", file=sys.stderr)
        return 1
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
