"""``lambda-isr init DIR``: a new site that works at once.

It writes, from the package's ``site_template/`` folder::

    DIR/handler/app.py        a FaceApp: ``/`` and ``/posts/{slug}`` (ISR), ``/now`` (SSR)
    DIR/tests/                its tests (buffered calls, and one event through the runtime loop)
    DIR/events/               Function URL events for ``lambda-isr invoke`` and ``sam local``
    DIR/template.yaml         the layer (built by ``lambda-isr layer --out build/layer``), the
                              table, the bucket, the function with a streaming Function URL
    DIR/samconfig.toml, DIR/pyproject.toml (pytest settings), DIR/README.md, DIR/.gitignore

``__SITE_NAME__`` (the folder's name as a stack name) and ``__SITE_TITLE__`` are filled in.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path
from typing import Any

import lambda_isr

TEMPLATE = Path(lambda_isr.__file__).resolve().parent / "site_template"
RENAMED = {"gitignore": ".gitignore", "pyproject.toml.in": "pyproject.toml"}
"""Template files stored under another name: no dotfile (a wheel's data keeps none reliably),
no ``pyproject.toml`` (tools would take the template folder for a project of its own)."""


class InitError(Exception):
    """One line: what is wrong with the target folder and what to do."""


def site_name(folder: Path) -> str:
    """The folder's name as a CloudFormation stack name: letters, digits and ``-``."""
    words = re.findall(r"[A-Za-z0-9]+", folder.resolve().name)
    name = "-".join(words).lower()
    if not name or not name[0].isalpha():
        name = f"site-{name}" if name else "site"
    return name[:100]


def site_title(name: str) -> str:
    return name.replace("-", " ").capitalize()


def template_files() -> list[Path]:
    """Every file of the template, relative to it (caches left out)."""
    return sorted(
        path.relative_to(TEMPLATE)
        for path in TEMPLATE.rglob("*")
        if path.is_file()
        and "__pycache__" not in path.parts
        and not any(part.startswith(".") for part in path.relative_to(TEMPLATE).parts)
        and path.suffix != ".pyc"
    )


def create_site(folder: Path) -> list[Path]:
    """Write a new site into ``folder`` (missing or empty); the files written."""
    if folder.exists() and not folder.is_dir():
        raise InitError(f"{folder} is a file: pass the path of a new folder")
    if folder.is_dir() and any(folder.iterdir()):
        raise InitError(f"{folder} is not empty: pass a new or empty folder")
    name = site_name(folder)
    values = {"__SITE_NAME__": name, "__SITE_TITLE__": site_title(name)}
    written = []
    for relative in template_files():
        text = (TEMPLATE / relative).read_text(encoding="utf-8")
        for placeholder, value in values.items():
            text = text.replace(placeholder, value)
        target = folder / relative.parent / RENAMED.get(relative.name, relative.name)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        written.append(target)
    return written


def register(subparsers: Any) -> None:
    """Add ``lambda-isr init DIR``."""
    from lambda_isr.cli import fail  # noqa: PLC0415 - the CLI imports this module

    parser = subparsers.add_parser(
        "init",
        help="create a new site (app, tests, events, template.yaml) in a new folder",
        description="Create a new lambda-isr site that works at once: a FaceApp with three "
        "routes, its tests, events, a SAM template using the layer from `lambda-isr layer`, "
        "samconfig.toml and a README.",
    )
    parser.add_argument("dir", type=Path, help="the new site's folder (missing or empty)")

    def run(args: argparse.Namespace) -> int:
        try:
            written = create_site(args.dir)
        except InitError as exc:
            return fail("init", str(exc))
        except OSError as exc:
            return fail("init", f"cannot write {args.dir}: {exc.strerror or exc}", 1)
        print(f"created {site_name(args.dir)} in {args.dir} ({len(written)} files). Next:")
        print(f"  cd {args.dir}")
        print("  lambda-isr dev --reload     # http://127.0.0.1:3000")
        print("  python -m pytest            # the site's tests (pip install pytest)")
        return 0

    parser.set_defaults(func=run)
