"""``lambda-isr invoke EVENT.json --handler module.function [--buffered]``.

Streaming (default): the event goes through the real runtime loop against an in-process Runtime
API, and the response is printed as it arrives, each chunk with its arrival time.
``--buffered``: the handler is called the stock way (as ``sam local invoke`` would) and the
buffered result is printed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any, TextIO

from lambda_isr.errors import HandlerLoadError, InvocationFaultError
from lambda_isr.runtime import protocol
from lambda_isr.runtime.context import LambdaContext
from lambda_isr.runtime.invoke import decode_event, marshal
from lambda_isr.runtime.loader import load_handler
from lambda_isr.runtime.local_api import FUNCTION_ARN, LocalRuntimeApi
from lambda_isr.runtime.loop import Runtime, RuntimeConfig
from lambda_isr.runtime.recording import (
    BufferedResult,
    InvocationErrorEvent,
    InvocationEvent,
    Prelude,
    RecordedChunk,
    StreamBroken,
    StreamEnd,
)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("invoke", help="run one event through a handler locally")
    parser.add_argument("event", type=Path, help="the event JSON file")
    parser.add_argument("--handler", required=True, help="module.function, as in _HANDLER")
    parser.add_argument("--task-root", default=".", help="where the handler module lives")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds (deadline)")
    parser.add_argument(
        "--buffered", action="store_true", help="call the handler the stock way (sam local invoke)"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    event = args.event.read_bytes()
    task_root = str(Path(args.task_root).resolve())
    if args.buffered:
        return run_buffered(event, args.handler, task_root, args.timeout, sys.stdout)
    return run_streaming(event, args.handler, task_root, args.timeout, sys.stdout)


def _print_json(value: object, out: TextIO) -> None:
    out.write(json.dumps(value, indent=2, ensure_ascii=False, default=str) + "\n")


def run_buffered(event: bytes, spec: str, task_root: str, timeout: float, out: TextIO) -> int:
    rid = str(uuid.uuid4())
    try:
        handler = load_handler(spec, task_root)
    except HandlerLoadError as exc:
        _print_json(protocol.fault_payload(str(exc), exc.error_type), out)
        return 1
    deadline = int((time.time() + timeout) * 1000)
    invocation = protocol.Invocation(rid, deadline, FUNCTION_ARN, event)
    try:
        context = LambdaContext.for_invocation(invocation, os.environ)
        body, _ = marshal(handler(decode_event(invocation), context))
    except InvocationFaultError as exc:
        _print_json(protocol.fault_payload(str(exc), exc.error_type, rid), out)
        return 1
    except Exception as exc:
        _print_json(protocol.error_payload(exc, rid), out)
        return 1
    try:
        _print_json(json.loads(body), out)
    except ValueError:
        out.write(body.decode("utf-8", "replace") + "\n")
    return 0


def describe(event: InvocationEvent, since: float) -> list[str]:
    """Human lines for one event, stamped with its arrival time."""
    stamp = f"[+{(event.at - since) * 1000:9.1f} ms]"
    if isinstance(event, Prelude):
        lines = [f"{stamp} status {event.status}"]
        lines += [f"{' ' * len(stamp)} {k}: {v}" for k, v in event.headers.items()]
        lines += [f"{' ' * len(stamp)} set-cookie: {c}" for c in event.cookies]
        return lines
    if isinstance(event, RecordedChunk):
        try:
            text = event.data.decode("utf-8")
        except UnicodeDecodeError:
            text = f"<{len(event.data)} bytes of binary data>"
        return [f"{stamp} chunk {len(event.data)} bytes", text]
    if isinstance(event, StreamEnd):
        if event.error is None:
            return [f"{stamp} end of stream"]
        return [
            f"{stamp} end of stream with error trailers: {event.error_type}",
            json.dumps(event.error, indent=2),
        ]
    if isinstance(event, BufferedResult):
        return [
            f"{stamp} buffered result ({event.content_type})",
            event.body.decode("utf-8", "replace"),
        ]
    if isinstance(event, InvocationErrorEvent):
        return [f"{stamp} invocation error {event.error_type}", json.dumps(event.payload, indent=2)]
    assert isinstance(event, StreamBroken)
    return [f"{stamp} broken stream: {event.reason}"]


def run_streaming(event: bytes, spec: str, task_root: str, timeout: float, out: TextIO) -> int:
    with LocalRuntimeApi() as api:
        pending = api.enqueue(event, deadline_ms=int((time.time() + timeout) * 1000))
        runtime = Runtime(RuntimeConfig(api.address, spec, task_root), os.environ)
        if runtime.init():
            error_type, payload = api.init_errors[-1]
            out.write(f"init error {error_type}\n")
            _print_json(payload, out)
            return 1
        thread = threading.Thread(target=runtime.serve, args=(1,), daemon=True)
        thread.start()
        status = 0
        try:
            for item in pending.stream(timeout=timeout + 5):
                since = pending.delivered_at or item.at
                out.write("\n".join(describe(item, since)) + "\n")
                out.flush()
                failed = isinstance(item, InvocationErrorEvent | StreamBroken)
                if failed or (isinstance(item, StreamEnd) and item.error is not None):
                    status = 1
        finally:
            thread.join(timeout)
            runtime.client.close()
        return status
