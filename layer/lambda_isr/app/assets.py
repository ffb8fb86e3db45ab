"""Client assets from Vite's build manifest (``<outDir>/.vite/manifest.json``, Vite 5-8).

A manifest maps source keys (``"src/main.js"``, or ``"_shared-<hash>.js"`` for a shared chunk)
to chunks: ``file`` (the output path, e.g. ``assets/main-<hash>.js``: the S3 key too),
``imports`` (keys of statically imported chunks), ``css`` (output stylesheets), ``isEntry``.

For one entry, :meth:`ViteManifest.entry` gives (:class:`EntryAssets`), in this order:

1. ``<link rel="stylesheet">``: the CSS of every chunk reachable through ``imports`` (followed
   recursively, dependencies first), then the entry's own CSS (a chunk whose ``file`` is a
   stylesheet, such as a CSS-only import, counts as CSS);
2. ``<link rel="modulepreload">``: the ``file`` of every JavaScript chunk reachable through
   ``imports``, dependencies first (dynamic imports are not preloaded);
3. ``<script type="module" src>``: the entry's ``file`` (none for a CSS entry).

Every URL is written once (a chunk shared along several paths, or an import cycle, is
visited once) and is Vite's ``base`` (default ``/``) + ``file``. The same manifest always
gives the same tags in the same order. An unreadable manifest, a malformed one, or an entry it
does not hold is a :class:`~lambda_isr.errors.ConfigError` when the app is built.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from lambda_isr.app.head import Link, PageHead, Script
from lambda_isr.errors import ConfigError

__all__ = [
    "IMMUTABLE",
    "MANIFEST_PATH",
    "Chunk",
    "EntryAssets",
    "ViteManifest",
    "content_type",
]

MANIFEST_PATH = Path(".vite") / "manifest.json"
"""Where Vite writes the manifest, relative to its ``outDir`` (``build.manifest: true``)."""
_CSS = ".css"
IMMUTABLE = "public, max-age=31536000, immutable"
"""``Cache-Control`` of every built asset: its name holds its content hash, so it never changes."""
_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".map": "application/json; charset=utf-8",
    ".json": "application/json; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".avif": "image/avif",
    ".ico": "image/x-icon",
    ".woff": "font/woff",
    ".woff2": "font/woff2",
    ".ttf": "font/ttf",
    ".otf": "font/otf",
    ".wasm": "application/wasm",
    ".webmanifest": "application/manifest+json",
}


def content_type(name: str) -> str:
    """The ``Content-Type`` of a built file, by its extension (``application/octet-stream``
    when unknown): the same table for ``lambda-isr dev`` and ``lambda-isr publish-assets``."""
    return _TYPES.get(os.path.splitext(name)[1].lower(), "application/octet-stream")


@dataclass(frozen=True, slots=True)
class Chunk:
    """One manifest entry (the fields a server needs)."""

    file: str
    imports: tuple[str, ...] = ()
    css: tuple[str, ...] = ()
    is_entry: bool = False


@dataclass(frozen=True, slots=True)
class EntryAssets:
    """The tags one entry needs (see module docstring for the order)."""

    name: str
    styles: tuple[str, ...]
    preloads: tuple[str, ...]
    script: str | None

    def head(self) -> PageHead:
        """A head holding these tags (merge it under a page's own head)."""
        links = [Link("stylesheet", url) for url in self.styles]
        links += [Link("modulepreload", url) for url in self.preloads]
        scripts = (Script(self.script, module=True),) if self.script is not None else ()
        return PageHead(links=tuple(links), scripts=scripts)


def _relative_file(value: object, where: str) -> str:
    if not isinstance(value, str) or not value or value.startswith(("/", "\\")):
        raise ConfigError(f"{where}: 'file' must be a relative path such as 'assets/x.js'")
    if "\\" in value or "://" in value or ".." in value.split("/") or "\0" in value:
        raise ConfigError(f"{where}: 'file' {value!r} is not a plain relative path")
    return value


def _strings(value: object, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ConfigError(f"{where} must be a list of strings")
    return tuple(value)


def _check_base(base: object) -> str:
    if (
        not isinstance(base, str)
        or not base.endswith("/")
        or not base.lower().startswith(("/", "http://", "https://"))
        or any(c in base for c in "\"'<> \0\r\n")
    ):
        raise ConfigError(
            f"the assets base must be Vite's base, a path or http(s) URL ending in '/' such as "
            f"'/' or 'https://cdn.example.com/', got {base!r}"
        )
    return base


class ViteManifest:
    """A parsed, validated Vite manifest (see module docstring)."""

    def __init__(self, chunks: Mapping[str, Chunk], *, base: str = "/", source: str = "") -> None:
        self.base = _check_base(base)
        self.source = source or "the Vite manifest"
        self.chunks = dict(chunks)
        self._entries: dict[str, EntryAssets] = {}
        for key, chunk in self.chunks.items():
            for imported in chunk.imports:
                if imported not in self.chunks:
                    raise ConfigError(
                        f"{self.source}: {key!r} imports {imported!r}, which it does not hold "
                        "(a manifest from another build?): rebuild the front end"
                    )

    @classmethod
    def parse(cls, data: object, *, base: str = "/", source: str = "") -> ViteManifest:
        """A manifest from its decoded JSON."""
        where = source or "the Vite manifest"
        if not isinstance(data, Mapping):
            raise ConfigError(f"{where} is not a JSON object (is it Vite's .vite/manifest.json?)")
        chunks: dict[str, Chunk] = {}
        for key, raw in data.items():
            at = f"{where} entry {key!r}"
            if not isinstance(key, str) or not key or not isinstance(raw, Mapping):
                raise ConfigError(f"{at} is not an object with a 'file'")
            chunks[key] = Chunk(
                file=_relative_file(raw.get("file"), at),
                imports=_strings(raw.get("imports"), f"{at} 'imports'"),
                css=tuple(_relative_file(f, at) for f in _strings(raw.get("css"), f"{at} 'css'")),
                is_entry=bool(raw.get("isEntry")) or bool(raw.get("isDynamicEntry")),
            )
        return cls(chunks, base=base, source=where)

    @classmethod
    def load(cls, path: str | os.PathLike[str], *, base: str = "/") -> ViteManifest:
        """Read ``path`` (Vite's ``<outDir>/.vite/manifest.json``); a :class:`ConfigError`
        names the file and the fix when it cannot be read or is not a manifest."""
        where = f"Vite manifest {os.fspath(path)}"
        try:
            text = Path(path).read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ConfigError(
                f"{where} not found: build the front end first (vite build with "
                "build.manifest: true; the demo: make frontend)"
            ) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{where} cannot be read: {exc}") from None
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise ConfigError(f"{where} is not JSON ({exc}): rebuild the front end") from None
        return cls.parse(data, base=base, source=where)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name in self.chunks

    def url(self, file: str) -> str:
        """The public URL of an output file: ``base`` + ``file``."""
        return self.base + file

    def entry(self, name: str) -> EntryAssets:
        """The tags of entry ``name`` (a manifest key such as ``"src/main.js"``)."""
        found = self._entries.get(name)
        if found is None:
            found = self._entries[name] = self._resolve(name)
        return found

    def _resolve(self, name: str) -> EntryAssets:
        chunk = self.chunks.get(name) if isinstance(name, str) else None
        if chunk is None or not chunk.is_entry:
            entries = sorted(k for k, c in self.chunks.items() if c.is_entry)
            what = "is not an entry of" if chunk is not None else "is not in"
            raise ConfigError(
                f"entry {name!r} {what} {self.source}: its entries are "
                f"{', '.join(entries) or 'none'} (check build.rolldownOptions.input)"
            )
        styles: dict[str, None] = {}
        preloads: dict[str, None] = {}
        seen = {name}

        def walk(current: Chunk) -> None:  # dependencies first; each chunk once (cycle safe)
            for key in current.imports:
                if key in seen:
                    continue
                seen.add(key)
                imported = self.chunks[key]
                walk(imported)
                if imported.file.endswith(_CSS):
                    styles.setdefault(self.url(imported.file))
                else:
                    preloads.setdefault(self.url(imported.file))
                for css in imported.css:
                    styles.setdefault(self.url(css))

        walk(chunk)
        for css in chunk.css:
            styles.setdefault(self.url(css))
        script = None
        if chunk.file.endswith(_CSS):
            styles.setdefault(self.url(chunk.file))
        else:
            script = self.url(chunk.file)
        return EntryAssets(name, tuple(styles), tuple(preloads), script)
