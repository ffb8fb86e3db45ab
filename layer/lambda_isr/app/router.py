"""Route patterns and the router of a :class:`~lambda_isr.app.FaceApp`.

A pattern is a path of segments, each one of:

- static text (``about``; percent-escapes in the pattern are decoded once);
- ``{name}``: exactly one segment;
- ``{name+}``: one or more segments, ``{name*}``: zero or more (a *catch-all*, last only).
  ``{proxy+}`` / ``{proxy*}`` are accepted as they are (the legacy API Gateway spelling).

**Precedence**, compared segment by segment from the left: at the first segment where two
routes differ, a static segment beats ``{param}``, which beats a catch-all; a path that ends
where a route ends beats a catch-all that would match zero segments. So ``/a/b/c`` goes to
``/a/{x}/c`` rather than ``/{y}/b/c``.

**Errors when the route is added** (:class:`~lambda_isr.errors.ConfigError`, naming both
routes): two routes equal in every segment (``/a/{x}`` and ``/a/{y}``; a ``+`` and a ``*``
catch-all at the same place count as equal), a catch-all that is not last, a bad pattern.

**Matching** is on the normalised path (:func:`~lambda_isr.isr.keys.normalise_path`): each
segment is percent-decoded once; a ``{param}`` never holds a ``/`` (a ``%2F`` in its segment
means it does not match); a catch-all's value is its decoded segments joined by ``/``.
Patterns compile into a tree of dicts: a lookup costs one dict probe per segment.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import Enum
from typing import Generic, TypeVar
from urllib.parse import quote, unquote

from lambda_isr.errors import ConfigError

T = TypeVar("T")

_SEGMENT_SAFE = "!$&'()*+,;=:@-._~"
"""As :func:`~lambda_isr.isr.keys.normalise_path` re-encodes a segment."""
_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_PARAM_RE = re.compile(r"^\{([^{}]*?)([+*]?)\}$")


class SegmentKind(Enum):
    """What a pattern segment matches (in precedence order)."""

    STATIC = "static"
    PARAM = "param"
    CATCH_ALL = "catch-all"


@dataclass(frozen=True, slots=True)
class Segment:
    kind: SegmentKind
    value: str
    """The decoded text of a static segment, or the parameter's name."""
    min_one: bool = False
    """For a catch-all: ``{name+}`` (one or more segments) rather than ``{name*}``."""


@dataclass(frozen=True, slots=True)
class RoutePattern:
    """A parsed, validated route pattern."""

    pattern: str
    segments: tuple[Segment, ...]

    @property
    def params(self) -> tuple[str, ...]:
        return tuple(s.value for s in self.segments if s.kind is not SegmentKind.STATIC)

    @property
    def is_static(self) -> bool:
        return all(s.kind is SegmentKind.STATIC for s in self.segments)


def parse_pattern(pattern: object) -> RoutePattern:
    """Parse ``pattern``; a bad one is a :class:`ConfigError` naming it."""
    if not isinstance(pattern, str) or not pattern.startswith("/"):
        raise ConfigError(f"route {pattern!r}: a route is a string starting with '/'")
    if pattern == "/":
        return RoutePattern(pattern, ())
    raw = pattern[1:].split("/")
    segments: list[Segment] = []
    seen: set[str] = set()
    for index, part in enumerate(raw):
        where = f"route {pattern!r}"
        if part == "":
            raise ConfigError(f"{where}: empty segment (no '//' and no trailing '/')")
        param = _PARAM_RE.fullmatch(part)
        if param is None:
            if "{" in part or "}" in part:
                raise ConfigError(f"{where}: segment {part!r} mixes text and a '{{param}}'")
            text = unquote(part)
            if text in (".", "..") or "/" in text:
                raise ConfigError(f"{where}: segment {part!r} cannot be matched")
            segments.append(Segment(SegmentKind.STATIC, text))
            continue
        name, star = param.groups()
        if not _NAME_RE.fullmatch(name):
            raise ConfigError(f"{where}: {part!r} needs a parameter name like {{slug}}")
        if name in seen:
            raise ConfigError(f"{where}: parameter {name!r} appears twice")
        seen.add(name)
        if star:
            if index != len(raw) - 1:
                raise ConfigError(f"{where}: the catch-all {part!r} must be the last segment")
            segments.append(Segment(SegmentKind.CATCH_ALL, name, min_one=star == "+"))
        else:
            segments.append(Segment(SegmentKind.PARAM, name))
    return RoutePattern(pattern, tuple(segments))


@dataclass(slots=True)
class _Node(Generic[T]):
    static: dict[str, _Node[T]] = field(default_factory=dict)
    param: _Node[T] | None = None
    end: tuple[RoutePattern, T] | None = None
    catch_all: tuple[RoutePattern, T] | None = None


@dataclass(frozen=True, slots=True)
class Match(Generic[T]):
    """A matched route: its pattern, its value and its decoded params."""

    pattern: RoutePattern
    value: T
    params: dict[str, str]


class Router(Generic[T]):
    """Routes patterns to values (see module docstring)."""

    def __init__(self) -> None:
        self._root: _Node[T] = _Node()
        self._patterns: list[RoutePattern] = []
        self._static: dict[str, tuple[RoutePattern, T]] = {}
        """Fully static routes by normalised path: such a route, when it matches, always wins."""

    def __len__(self) -> int:
        return len(self._patterns)

    @property
    def patterns(self) -> tuple[RoutePattern, ...]:
        return tuple(self._patterns)

    def add(self, pattern: str | RoutePattern, value: T) -> RoutePattern:
        """Add a route; raises :class:`ConfigError` for a bad or ambiguous pattern."""
        parsed = pattern if isinstance(pattern, RoutePattern) else parse_pattern(pattern)
        node = self._root
        for segment in parsed.segments:
            if segment.kind is SegmentKind.STATIC:
                node = node.static.setdefault(segment.value, _Node())
            elif segment.kind is SegmentKind.PARAM:
                if node.param is None:
                    node.param = _Node()
                node = node.param
            else:
                if node.catch_all is not None:
                    _ambiguous(node.catch_all[0], parsed)
                node.catch_all = (parsed, value)
                break
        else:
            if node.end is not None:
                _ambiguous(node.end[0], parsed)
            node.end = (parsed, value)
            if parsed.is_static:
                path = "/" + "/".join(quote(s.value, safe=_SEGMENT_SAFE) for s in parsed.segments)
                self._static[path] = node.end
        self._patterns.append(parsed)
        return parsed

    def match(self, path: str) -> Match[T] | None:
        """The best route for a normalised path (``/``-separated, percent-encoded segments)."""
        static = self._static.get(path)
        if static is not None:
            return Match(static[0], static[1], {})
        parts = [p for p in path.split("/") if p]
        decoded = [unquote(p) if "%" in p else p for p in parts]
        found = _walk(self._root, decoded, 0, [])
        if found is None:
            return None
        (pattern, value), values = found
        params: dict[str, str] = {}
        names = pattern.params
        for name, got in zip(names, values, strict=True):
            params[name] = got
        return Match(pattern, value, params)


def _ambiguous(first: RoutePattern, second: RoutePattern) -> None:
    raise ConfigError(
        f"routes {first.pattern!r} and {second.pattern!r} are ambiguous: they are equal in"
        " every segment, so no request could tell them apart"
    )


def _walk(
    node: _Node[T], segs: list[str], i: int, values: list[str]
) -> tuple[tuple[RoutePattern, T], list[str]] | None:
    if i == len(segs):
        if node.end is not None:
            return node.end, values
        if node.catch_all is not None and not node.catch_all[0].segments[-1].min_one:
            return node.catch_all, [*values, ""]
        return None
    seg = segs[i]
    child = node.static.get(seg)
    if child is not None:
        found = _walk(child, segs, i + 1, values)
        if found is not None:
            return found
    if node.param is not None and "/" not in seg:
        found = _walk(node.param, segs, i + 1, [*values, seg])
        if found is not None:
            return found
    if node.catch_all is not None:
        return node.catch_all, [*values, "/".join(segs[i:])]
    return None
