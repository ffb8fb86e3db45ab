"""The ``lambda-isr`` console script.

Each subcommand lives in its own module that exposes ``register(subparsers)``; registering it
adds the subparser and sets ``func`` (``(args) -> int``, the exit status). To add a subcommand,
append its module to :data:`SUBCOMMANDS` (e.g. ``"lambda_isr.dev"`` for ``lambda-isr dev``).
Modules should import their heavy dependencies inside ``func``, not at import time.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

SUBCOMMANDS: tuple[str, ...] = (
    "lambda_isr.runtime.local_invoke",  # lambda-isr invoke
    "lambda_isr.dev",  # lambda-isr dev
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lambda-isr", description="Streaming blocking ISR for AWS Lambda Function URLs."
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in SUBCOMMANDS:
        importlib.import_module(module).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    status: int = args.func(args)
    return status


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
