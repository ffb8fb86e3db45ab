"""``lambda-isr dev``: a local Function URL emulator that really streams."""

from __future__ import annotations

from typing import Any


def register(subparsers: Any) -> None:
    """Add ``lambda-isr dev`` (see :mod:`lambda_isr.dev.cli`)."""
    from lambda_isr.dev.cli import register as register_dev  # noqa: PLC0415 - keep import cheap

    register_dev(subparsers)
