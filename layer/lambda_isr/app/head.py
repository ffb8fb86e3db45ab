"""The document head: :class:`PageHead`, merged (app < load < face) and rendered deterministically.

Rendered order (always the same for the same head, whatever order entries were given in):

1. ``<meta charset>``;
2. ``<meta http-equiv>`` entries;
3. ``<title>`` (the app's ``title_template`` applied to a page's own title);
4. ``<meta name>`` entries, then ``<meta property>`` entries (Open Graph, ...);
5. ``<link rel="canonical">``, then the other ``<link>`` entries;
6. JSON-LD (``<script type="application/ld+json">``);
7. ``<script>`` entries.

Within a kind, entries keep the order in which their key first appeared. **De-duplication by
key**: meta by (``name`` | ``property`` | ``http-equiv``, its value); link by ``rel`` for the
singletons ``canonical``, ``icon`` and ``manifest``, by (``rel``, ``href``) otherwise; script by
``src``; JSON-LD by content; ``<html>`` attributes by name. A later head's entry (the face over
``load`` over the app default) replaces an earlier one in place. Every value is HTML-escaped;
link and script URLs must be ``http(s)`` or relative (a ``javascript:`` URL is a ``ValueError``).
"""

from __future__ import annotations

import builtins
import html
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from lambda_isr.app.hydration import safe_json

_SINGLETON_RELS = frozenset({"canonical", "icon", "manifest"})
_META_KEYS = ("http_equiv", "name", "property")


def _attr(value: str) -> str:
    return html.escape(value, quote=True)


def check_url(url: str, what: str) -> str:
    """``url`` when it is ``http(s)``, protocol-relative or relative; else a ``ValueError``."""
    if not isinstance(url, str) or not url.strip():
        raise ValueError(f"{what} must be a non-empty URL string, got {url!r}")
    head = url.strip().split("/", 1)[0].split("?", 1)[0].split("#", 1)[0]
    if ":" in head and head.lower() not in ("http:", "https:"):
        raise ValueError(f"{what} {url!r}: only http(s) or relative URLs are allowed")
    return url


@dataclass(frozen=True, slots=True)
class Meta:
    """One ``<meta>``: exactly one of ``name``, ``property``, ``http_equiv``, plus ``content``."""

    content: str
    name: str | None = None
    property: str | None = None
    http_equiv: str | None = None

    def __post_init__(self) -> None:
        given = [k for k in _META_KEYS if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("Meta takes exactly one of name=, property= or http_equiv=")
        if not isinstance(self.content, str):
            raise ValueError(f"Meta content must be a string, got {self.content!r}")

    @builtins.property
    def key(self) -> tuple[str, str]:
        for attr in _META_KEYS:
            value = getattr(self, attr)
            if value is not None:
                return attr, str(value).lower()
        raise AssertionError("unreachable")  # pragma: no cover

    def render(self) -> str:
        attr, _ = self.key
        value = getattr(self, attr)
        label = "http-equiv" if attr == "http_equiv" else attr
        return f'<meta {label}="{_attr(value)}" content="{_attr(self.content)}">'


@dataclass(frozen=True, slots=True)
class Link:
    """One ``<link>``; ``attrs`` are extra attributes (``type``, ``sizes``, ``hreflang``...)."""

    rel: str
    href: str
    attrs: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_url(self.href, f"link rel={self.rel!r} href")

    @property
    def key(self) -> tuple[str, str]:
        rel = self.rel.lower()
        return (rel, "") if rel in _SINGLETON_RELS else (rel, self.href)

    def render(self) -> str:
        extra = "".join(f' {_attr(k)}="{_attr(v)}"' for k, v in sorted(self.attrs.items()))
        return f'<link rel="{_attr(self.rel)}" href="{_attr(self.href)}"{extra}>'


@dataclass(frozen=True, slots=True)
class Script:
    """One external ``<script src>`` (``module=True``: ``type="module"``; else ``defer``)."""

    src: str
    module: bool = True

    def __post_init__(self) -> None:
        check_url(self.src, "script src")

    def render(self) -> str:
        kind = ' type="module"' if self.module else " defer"
        return f'<script{kind} src="{_attr(self.src)}"></script>'


@dataclass(frozen=True, slots=True)
class PageHead:
    """A document head (see module docstring). Every field is optional; merge with ``|``."""

    title: str | None = None
    meta: tuple[Meta, ...] = ()
    links: tuple[Link, ...] = ()
    canonical: str | None = None
    json_ld: tuple[Mapping[str, Any], ...] = ()
    scripts: tuple[Script, ...] = ()
    html_attrs: Mapping[str, str] = field(default_factory=dict)
    lang: str | None = None
    charset: str | None = None
    description: str | None = None
    """Shorthand for ``Meta(name="description")``."""

    def __post_init__(self) -> None:
        for name in ("meta", "links", "json_ld", "scripts"):
            value = getattr(self, name)
            if not isinstance(value, tuple):
                if isinstance(value, str | bytes | Mapping) or not isinstance(value, Iterable):
                    raise ValueError(f"PageHead.{name} must be a sequence")
                object.__setattr__(self, name, tuple(value))
        if self.canonical is not None:
            check_url(self.canonical, "canonical")
        for item in self.json_ld:
            json.dumps(item)  # a value JSON cannot hold fails here, before any byte is sent

    def __or__(self, other: PageHead | None) -> PageHead:
        """This head overridden by ``other`` (``other``'s entries win, key by key)."""
        return self if other is None else merge_heads(self, other)

    def _entries(self) -> tuple[list[Meta], list[Link]]:
        meta = list(self.meta)
        if self.description is not None:
            meta.append(Meta(self.description, name="description"))
        links = list(self.links)
        if self.canonical is not None:
            links.append(Link("canonical", self.canonical))
        return meta, links


def _merge_keyed(*groups: Iterable[Any]) -> list[Any]:
    out: dict[Any, Any] = {}
    for group in groups:
        for item in group:
            out[item.key] = item
    return list(out.values())


def merge_heads(base: PageHead, top: PageHead) -> PageHead:
    """``base`` overridden by ``top``, key by key."""
    base_meta, base_links = base._entries()
    top_meta, top_links = top._entries()
    scripts: dict[str, Script] = {s.src: s for s in (*base.scripts, *top.scripts)}
    ld: dict[str, Mapping[str, Any]] = {}
    for item in (*base.json_ld, *top.json_ld):
        ld.setdefault(json.dumps(item, sort_keys=True), item)
    return PageHead(
        title=top.title if top.title is not None else base.title,
        meta=tuple(_merge_keyed(base_meta, top_meta)),
        links=tuple(_merge_keyed(base_links, top_links)),
        json_ld=tuple(ld.values()),
        scripts=tuple(scripts.values()),
        html_attrs={**base.html_attrs, **top.html_attrs},
        lang=top.lang if top.lang is not None else base.lang,
        charset=top.charset if top.charset is not None else base.charset,
    )


def render_title(title: str | None, template: str | None) -> str | None:
    if title is None:
        return None
    return template.replace("%s", title) if template else title


def html_open(head: PageHead) -> str:
    """``<html ...>`` with ``lang`` and the other attributes, sorted by name."""
    attrs = dict(head.html_attrs)
    if head.lang is not None:
        attrs["lang"] = head.lang
    return "<html" + "".join(f' {_attr(k)}="{_attr(v)}"' for k, v in sorted(attrs.items())) + ">"


def render_head(head: PageHead, *, title: str | None = None) -> str:
    """The inside of ``<head>`` in the documented order; ``title`` overrides ``head.title``
    (the caller applies the title template)."""
    meta, links = head._entries()
    meta = _merge_keyed(meta)
    links = _merge_keyed(links)
    out = [f'<meta charset="{_attr(head.charset or "utf-8")}">']
    out += [m.render() for m in meta if m.key[0] == "http_equiv"]
    text = title if title is not None else head.title
    if text is not None:
        out.append(f"<title>{html.escape(text, quote=False)}</title>")
    out += [m.render() for m in meta if m.key[0] == "name"]
    out += [m.render() for m in meta if m.key[0] == "property"]
    out += [link.render() for link in links if link.key[0] == "canonical"]
    out += [link.render() for link in links if link.key[0] != "canonical"]
    seen: set[str] = set()
    for item in head.json_ld:
        text_ld = safe_json(item)
        if text_ld not in seen:
            seen.add(text_ld)
            out.append(f'<script type="application/ld+json">{text_ld}</script>')
    scripts = {s.src: s for s in head.scripts}
    out += [s.render() for s in scripts.values()]
    return "".join(out)
