"""Which app a cached page belongs to: the store namespace of an app or face.

Two apps run from one folder (``handler/app.py`` and ``examples/blog/app.py``, both
``app.handler``) must not share cached pages: keys hold only the host and the path. So the
embedded store keeps each app in a subfolder named after the **resolved path of the module that
defines it** (the file where ``FaceApp(...)`` is called or ``@isr_face`` decorates), the same
under ``lambda-isr dev``, ``lambda-isr invoke``, the runtime loop and a direct call::

    .lambda-isr/app-blog-5f0c3a9e12/meta.sqlite3     # examples/blog/app.py
    .lambda-isr/app-handler-8d41b7c2e0/meta.sqlite3  # handler/app.py

``LAMBDA_ISR_NAMESPACE`` (or ``namespace=``) names the namespace explicitly instead; only an
explicit namespace applies to the AWS store (see :mod:`lambda_isr.settings`). Code in another
process (a purge) names the app: :func:`app_source` turns a handler, a module, a module name or
a file path into the file its namespace comes from.

Importing this module is cheap (no boto3, no store).
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from types import FrameType, ModuleType

from lambda_isr.errors import ConfigError
from lambda_isr.settings import ENV_STORE_NAMESPACE, check_namespace

__all__ = [
    "SOURCE_ATTRIBUTE",
    "app_source",
    "defining_source",
    "effective_namespace",
    "namespace_for_file",
]

SOURCE_ATTRIBUTE = "source_file"
"""The attribute of a handler (``FaceApp``, ``@isr_face``) holding its defining file."""
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")


def namespace_for_file(path: str | os.PathLike[str]) -> str:
    """``<module>-<folder>-<10 hex of sha256(resolved path)>``: readable, and distinct for two
    files that share a name (``handler/app.py``, ``examples/blog/app.py``)."""
    resolved = Path(path).resolve()
    digest = hashlib.sha256(str(resolved).encode("utf-8", "surrogatepass")).hexdigest()[:10]
    stem = _UNSAFE.sub("_", resolved.stem)[:40].strip("_") or "module"
    folder = _UNSAFE.sub("_", resolved.parent.name)[:40].strip("_") or "root"
    return f"{stem}-{folder}-{digest}"


def defining_source() -> str | None:
    """The file of the first caller outside lambda-isr: where the app or face is defined.

    Called while a handler is built (at import of the user's module); ``None`` when that code
    has no file (``python -c``, a REPL, ``exec``).
    """
    frame: FrameType | None = sys._getframe(1)
    while frame is not None and _is_ours(frame.f_globals.get("__name__")):
        frame = frame.f_back
    if frame is None:
        return None
    filename = frame.f_globals.get("__file__")
    if not isinstance(filename, str) or not os.path.isfile(filename):
        return None
    return os.path.abspath(filename)


def _is_ours(module: object) -> bool:
    return isinstance(module, str) and (module == "lambda_isr" or module.startswith("lambda_isr."))


def effective_namespace(
    environ: Mapping[str, str] | None = None,
    *,
    namespace: str | None = None,
    source: str | os.PathLike[str] | None = None,
) -> str | None:
    """The embedded store's namespace: ``namespace``, else ``LAMBDA_ISR_NAMESPACE``, else the
    one of ``source`` (the defining file), else ``None`` (the store's root folder)."""
    env = os.environ if environ is None else environ
    if namespace is not None:
        return check_namespace(namespace, "namespace")
    explicit = env.get(ENV_STORE_NAMESPACE)
    if explicit:
        return check_namespace(explicit, ENV_STORE_NAMESPACE)
    if source is None:
        return None
    return namespace_for_file(source)


def app_source(app: object) -> str | None:
    """The file an app's namespace comes from, for code that purges it from another process.

    ``app`` is the app or face itself (``FaceApp``, an ``@isr_face`` handler), a module, a
    module name (``"examples.blog.app"``, found without running it) or the path of its file
    (``"examples/blog/app.py"``). ``None`` gives ``None`` (the store's root folder).
    """
    if app is None:
        return None
    recorded = getattr(app, SOURCE_ATTRIBUTE, None)
    if isinstance(recorded, str):
        return recorded
    if isinstance(app, ModuleType):
        return _module_file(app.__name__, getattr(app, "__file__", None))
    if isinstance(app, os.PathLike) or (isinstance(app, str) and app.endswith(".py")):
        path = Path(app)
        if not path.is_file():
            raise ConfigError(f"app={os.fspath(app)!r}: no such file (pass the app's module file)")
        return str(path.resolve())
    if isinstance(app, str):
        try:
            spec = importlib.util.find_spec(app)
        except (ImportError, ValueError):
            spec = None
        if spec is None or not spec.origin or not os.path.isfile(spec.origin):
            raise ConfigError(
                f"app={app!r}: no module of that name on sys.path (pass the app object, its "
                "module, or the path of its file)"
            )
        return str(Path(spec.origin).resolve())
    raise ConfigError(
        f"app= must be the app or face, a module, a module name or a file path, got {app!r}"
    )


def _module_file(name: str, file: str | None) -> str:
    if not file or not os.path.isfile(file):
        raise ConfigError(f"app=: module {name} has no file to name its namespace after")
    return str(Path(file).resolve())
