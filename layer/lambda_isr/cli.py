"""The ``lambda-isr`` console script.

Each subcommand lives in its own module that exposes ``register(subparsers)``; registering it
adds the subparser and sets ``func`` (``(args) -> int``, the exit status). To add a subcommand,
append its module to :data:`SUBCOMMANDS` (e.g. ``"lambda_isr.dev"`` for ``lambda-isr dev``).
Modules should import their heavy dependencies inside ``func``, not at import time.

Errors are one line on stderr naming the problem and the fix; usage errors exit with 2. The
argument checks every subcommand shares (the handler, the task root, the event file, numbers)
live here, so all subcommands take the handler the same way: a ``module.function`` argument.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.machinery
import importlib.util
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

import lambda_isr

# lambda-isr invoke is registered by this module (its runner: lambda_isr.runtime.local_invoke).
SUBCOMMANDS: tuple[str, ...] = (
    "lambda_isr.dev",  # lambda-isr dev
    "lambda_isr.assets_cli",  # lambda-isr publish-assets
    "lambda_isr.init_site",  # lambda-isr init
    "lambda_isr.layer_build",  # lambda-isr layer
    "lambda_isr.build",  # lambda-isr build
)
USAGE = 2
HANDLER_HELP = "the handler, module.function (function handler in app.py: app.handler)"
TASK_ROOT_HELP = "the folder that holds the handler's module"


class Parser(argparse.ArgumentParser):
    """Shows defaults in ``--help``; a usage error is one line and exit status 2."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", argparse.ArgumentDefaultsHelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        self.exit(USAGE, f"{self.prog}: {message} (see '{self.prog} --help')\n")


def fail(command: str, message: str, status: int = USAGE) -> int:
    """Print ``lambda-isr <command>: <message>`` on stderr; return the exit status."""
    print(f"lambda-isr {command}: {message}", file=sys.stderr)
    return status


# --- argument types (argparse reports their errors as ``argument X: <message>``) ---------------


def handler_spec(value: str) -> str:
    """``module.function`` (``pkg.mod.function`` and ``pkg/mod.function`` too), as ``_HANDLER``."""
    if value is argparse.SUPPRESS:  # an omitted optional positional (argparse converts it too)
        return value
    module, _, function = value.rpartition(".")
    parts = module.replace("/", ".").split(".")
    if not function.isidentifier() or not all(part.isidentifier() for part in parts):
        raise argparse.ArgumentTypeError(
            f"'{value}' is not module.function: name the module and the function, for example "
            "app.handler for the function handler in app.py"
        )
    return value


def port_number(value: str) -> int:
    try:
        port = int(value)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(
            f"'{value}' is not a TCP port: use 1-65535, or 0 to pick a free port"
        )
    return port


def positive_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"'{value}' is not a whole number of at least 1")
    return number


def positive_float(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        number = 0.0
    if not 0 < number < float("inf"):
        raise argparse.ArgumentTypeError(f"'{value}' is not a number of seconds above 0")
    return number


# --- checks made once the arguments are parsed --------------------------------------------------


def task_root_problem(task_root: Path) -> str | None:
    if task_root.is_dir():
        return None
    what = "does not exist" if not task_root.exists() else "is not a directory"
    return f"--task-root {task_root} {what}: pass the folder that holds the handler's module"


def missing_module(spec: str, task_root: Path) -> str | None:
    """The handler's top-level module when neither the task root nor ``sys.path`` has it.

    Only looks for the module (``find_spec`` of a top-level name runs no code).
    """
    top = spec.rpartition(".")[0].replace("/", ".").split(".")[0]
    if importlib.machinery.PathFinder.find_spec(top, [str(task_root)]) is not None:
        return None
    if top in sys.modules or importlib.util.find_spec(top) is not None:
        return None
    return top


def module_problem(spec: str, task_root: Path) -> str | None:
    top = missing_module(spec, task_root)
    if top is None:
        return None
    where = task_root.resolve()
    return (
        f"no module '{top}' in {where} (no {top}.py, no {top}/): pass the folder that holds it "
        f"with --task-root, or fix the module in '{spec}'"
    )


def read_event(path: Path) -> tuple[bytes | None, str | None]:
    """The event file's bytes, or why it cannot be used (one line)."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None, f"event file {path} not found: pass the path of a JSON event (see events/)"
    except OSError as exc:
        return None, f"cannot read the event file {path}: {exc.strerror or exc}"
    try:
        json.loads(data)
    except ValueError as exc:  # JSONDecodeError, or text that is not UTF-8/16/32
        where = ""
        if isinstance(exc, json.JSONDecodeError):
            where = f" (line {exc.lineno}, column {exc.colno})"
        return None, f"event file {path} is not JSON{where}: fix it or pass another event file"
    return data, None


# --- lambda-isr invoke -------------------------------------------------------------------------


def register(subparsers: Any) -> None:
    """Add ``lambda-isr invoke EVENT [module.function]``."""
    parser = subparsers.add_parser(
        "invoke",
        help="run one event through a handler locally",
        description="Run one event through the real streaming runtime loop (or, with "
        "--buffered, the stock way) and print the response as it arrives.",
    )
    parser.add_argument("event", type=Path, help="the event JSON file")
    parser.add_argument(
        "handler",
        nargs="?",
        type=handler_spec,
        default=argparse.SUPPRESS,
        help=f"{HANDLER_HELP} (default: app.handler)",
    )
    parser.add_argument(
        "--handler",
        dest="handler_option",
        metavar="HANDLER",
        type=handler_spec,
        default=argparse.SUPPRESS,
        help="deprecated: pass the handler as the argument after EVENT",
    )
    parser.add_argument("--task-root", type=Path, default=Path("."), help=TASK_ROOT_HELP)
    parser.add_argument(
        "--timeout", type=positive_float, default=30.0, help="seconds before the deadline"
    )
    parser.add_argument(
        "--buffered", action="store_true", help="call the handler the stock way (sam local invoke)"
    )
    parser.set_defaults(func=run_invoke)


def run_invoke(args: argparse.Namespace) -> int:
    positional: str | None = getattr(args, "handler", None)
    option: str | None = getattr(args, "handler_option", None)
    if positional and option and positional != option:
        return fail("invoke", f"two handlers, {positional} and --handler {option}: pass one")
    if option and not positional:
        print(
            "lambda-isr invoke: --handler is deprecated: pass the handler after the event file "
            f"(lambda-isr invoke {args.event} {option})",
            file=sys.stderr,
        )
    handler = positional or option or "app.handler"
    problem = task_root_problem(args.task_root) or module_problem(handler, args.task_root)
    if problem is None:
        event, problem = read_event(args.event)
    if problem is not None:
        return fail("invoke", problem)
    assert event is not None
    from lambda_isr.runtime import local_invoke  # noqa: PLC0415 - only when the command runs

    run = local_invoke.run_buffered if args.buffered else local_invoke.run_streaming
    return run(event, handler, str(args.task_root.resolve()), args.timeout, sys.stdout)


# --- the console script ------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="lambda-isr", description="Streaming blocking ISR for AWS Lambda Function URLs."
    )
    parser.add_argument(
        "--version", action="version", version=f"lambda-isr {lambda_isr.__version__}"
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    register(subparsers)
    for module in SUBCOMMANDS:
        importlib.import_module(module).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        status: int = args.func(args)
    except KeyboardInterrupt:
        return 130
    return status


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
