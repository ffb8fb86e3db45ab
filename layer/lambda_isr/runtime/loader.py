"""Import the handler named by ``_HANDLER``, with the stock runtime's error types."""

from __future__ import annotations

import importlib
import sys

from lambda_isr.errors import HandlerLoadError

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from collections.abc import Callable
    from typing import Any

MALFORMED_HANDLER_NAME = "Runtime.MalformedHandlerName"
IMPORT_MODULE_ERROR = "Runtime.ImportModuleError"
USER_CODE_SYNTAX_ERROR = "Runtime.UserCodeSyntaxError"
HANDLER_NOT_FOUND = "Runtime.HandlerNotFound"
BUILT_IN_MODULE_CONFLICT = "Runtime.BuiltInModuleConflict"


def load_handler(spec: str, task_root: str | None = None) -> Callable[..., Any]:
    """``module.function``, ``pkg/mod.function`` or ``pkg.mod.function``.

    ``task_root`` (``$LAMBDA_TASK_ROOT``) is put first on ``sys.path`` when missing.
    Raises :class:`HandlerLoadError` whose ``error_type`` is the stock runtime's.
    """
    modname, _, fname = spec.rpartition(".")
    if not modname or not fname:
        raise HandlerLoadError(
            f"Bad handler '{spec}': not enough values to unpack", MALFORMED_HANDLER_NAME
        )
    if task_root and task_root not in sys.path:
        sys.path.insert(0, task_root)
    modname = modname.replace("/", ".")
    if modname.split(".")[0] in sys.builtin_module_names:
        raise HandlerLoadError(
            f"Cannot use built-in module {modname} as a handler module", BUILT_IN_MODULE_CONFLICT
        )
    try:
        module = importlib.import_module(modname)
    except ImportError as exc:
        raise HandlerLoadError(
            f"Unable to import module '{modname}': {exc}", IMPORT_MODULE_ERROR
        ) from exc
    except SyntaxError as exc:
        raise HandlerLoadError(
            f"Syntax error in module '{modname}': {exc}", USER_CODE_SYNTAX_ERROR
        ) from exc
    handler = getattr(module, fname, None)
    if handler is None:
        raise HandlerLoadError(
            f"Handler '{fname}' missing on module '{modname}'", HANDLER_NOT_FOUND
        )
    if not callable(handler):
        raise HandlerLoadError(
            f"Handler '{fname}' on module '{modname}' is not callable", HANDLER_NOT_FOUND
        )
    return handler  # type: ignore[no-any-return]
