"""Hydration data: JSON for the client, written so that it cannot break out of its script.

:func:`safe_json` escapes ``<``, ``>``, ``&``, U+2028 and U+2029 as ``\\uXXXX``: the text cannot
close the ``<script>`` element (``</script>``), open a comment (``<!--``) or end a JavaScript
line, and it is still exactly the same JSON for ``JSON.parse``. :func:`render_hydration` writes
``<script type="application/json" id="...">{data}</script>`` then
``<script type="module" src="..."></script>`` at the end of the body. For a cached page the
data is part of the same body, hence of the same generation as the HTML: a stale page is
always served with its own data.
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass
from typing import Any

DEFAULT_DATA_ID = "__lambda_isr_data__"
_ESCAPES = {
    "<": "\\u003c",
    ">": "\\u003e",
    "&": "\\u0026",
    "\u2028": "\\u2028",
    "\u2029": "\\u2029",
}
_UNSAFE = re.compile("[<>&\u2028\u2029]")
_ID_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_:.-]*$|^__[A-Za-z0-9_:.-]+$")


def safe_json(value: Any) -> str:
    """Compact JSON of ``value`` that is safe inside any ``<script>`` element."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return _UNSAFE.sub(lambda m: _ESCAPES[m.group(0)], text)


@dataclass(frozen=True, slots=True)
class Hydration:
    """Data for the client and the module that boots it (``bootstrap``, a URL)."""

    data: Any = None
    bootstrap: str | None = None
    element_id: str = DEFAULT_DATA_ID

    def __post_init__(self) -> None:
        from lambda_isr.app.head import check_url  # noqa: PLC0415 - head imports this module

        if self.bootstrap is not None:
            check_url(self.bootstrap, "hydration bootstrap")
        if not isinstance(self.element_id, str) or not _ID_RE.fullmatch(self.element_id):
            raise ValueError(f"hydration element_id {self.element_id!r} is not a plain id")


def render_hydration(hydration: Hydration) -> str:
    """The data script plus the bootstrap module script (see module docstring)."""
    data = safe_json(hydration.data)
    out = f'<script type="application/json" id="{hydration.element_id}">{data}</script>'
    if hydration.bootstrap is not None:
        src = html.escape(hydration.bootstrap, quote=True)
        out += f'<script type="module" src="{src}"></script>'
    return out
