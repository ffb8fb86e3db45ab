"""``/assets/*`` in ``lambda-isr dev``: the front end's build output, as CloudFront serves it
from the assets bucket.

The folder is ``$LAMBDA_ISR_ASSETS_DIR``, else ``<task root>/dist`` (Vite's ``outDir``): a
request for ``/assets/x.js`` reads ``<folder>/assets/x.js``. Answers carry the file's content
type and ``cache-control: public, max-age=31536000, immutable``. A missing file, a folder, or
a path that would leave the folder (``..``, percent-encoded or not, a backslash, a symlink
out) is a 404; only GET and HEAD are answered here (other methods go to the function).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from urllib.parse import unquote

from lambda_isr.app.assets import IMMUTABLE, content_type
from lambda_isr.dev.responses import Answer

__all__ = ["ASSETS_PREFIX", "ENV_ASSETS_DIR", "asset_answer", "assets_dir"]

ASSETS_PREFIX = "/assets/"
ENV_ASSETS_DIR = "LAMBDA_ISR_ASSETS_DIR"
_NOT_FOUND = Answer(
    404,
    (("content-type", "text/plain; charset=utf-8"), ("cache-control", "no-store")),
    b"asset not found\n",
)


def assets_dir(task_root: Path, environ: Mapping[str, str]) -> Path:
    """The build output served at ``/assets/*``."""
    configured = environ.get(ENV_ASSETS_DIR)
    return Path(configured) if configured else task_root / "dist"


def _inside(root: Path, target: str) -> Path | None:
    """The file ``target`` (a URL path) names under ``root``, or ``None``."""
    path = target.split("?", 1)[0].split("#", 1)[0]
    try:
        relative = unquote(path, errors="strict")
    except UnicodeDecodeError:
        return None
    parts = relative.lstrip("/").split("/")
    if "\\" in relative or "\0" in relative or any(p in ("", ".", "..") for p in parts):
        return None
    base = root.resolve()
    candidate = base.joinpath(*parts).resolve()
    if not candidate.is_relative_to(base) or not candidate.is_file():
        return None
    return candidate


def asset_answer(
    method: str, target: str, task_root: Path, environ: Mapping[str, str]
) -> Answer | None:
    """The answer to ``method target`` when it is an asset request, else ``None``."""
    if method not in ("GET", "HEAD") or not target.startswith(ASSETS_PREFIX):
        return None
    found = _inside(assets_dir(task_root, environ), target)
    if found is None:
        return _NOT_FOUND
    try:
        body = found.read_bytes()
    except OSError:
        return _NOT_FOUND
    headers = (
        ("content-type", content_type(found.name)),
        ("cache-control", IMMUTABLE),
        ("x-content-type-options", "nosniff"),
    )
    return Answer(200, headers, body)
