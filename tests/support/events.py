"""Load the Function URL events in ``events/`` (shared with the dev server and ``sam local``)."""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

EVENTS_DIR = Path(__file__).resolve().parents[2] / "events"


@cache
def _raw(name: str) -> dict[str, Any]:
    data = json.loads((EVENTS_DIR / f"{name}.json").read_text(encoding="utf-8"))
    assert isinstance(data, dict), name
    return data


def load_event(name: str) -> dict[str, Any]:
    """A fresh deep copy of ``events/<name>.json``."""
    return copy.deepcopy(_raw(name))


def event_names() -> list[str]:
    """Every event file this module serves (``plain-*`` events belong to the runtime tests)."""
    return sorted(p.stem for p in EVENTS_DIR.glob("*.json") if not p.stem.startswith("plain-"))


def make_event(
    path: str = "/blog/hello-world",
    *,
    method: str = "GET",
    query: str = "",
    headers: dict[str, str] | None = None,
    cookies: list[str] | None = None,
    request_id: str | None = None,
) -> dict[str, Any]:
    """``get.json`` with the given method, path, query, extra headers and cookies."""
    event = load_event("get")
    event["rawPath"] = path
    event["rawQueryString"] = query
    event["requestContext"]["http"]["method"] = method
    event["requestContext"]["http"]["path"] = path
    event["headers"].update(headers or {})
    if cookies is not None:
        event["cookies"] = cookies
    if request_id is not None:
        event["requestContext"]["requestId"] = request_id
    return event
