"""A ``FaceApp``'s Vite entries: ``FaceApp(manifest=, entry=)`` and ``@app.face(entry=)``.

The manifest and every named entry are checked when the app is built (a
:class:`~lambda_isr.errors.ConfigError` naming the route and the fix). Each face's document
head gets its entry's tags (:mod:`lambda_isr.app.assets`), merged under the page's own head.
A page's ``Hydration(bootstrap=...)`` may name a manifest entry (``"src/post.js"``) instead of
a URL: its tags go in the head, and its script is written once (never again after the data).
"""

from __future__ import annotations

import functools
import inspect
import os
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from lambda_isr.app.assets import EntryAssets, ViteManifest
from lambda_isr.app.page import Document, LoadFn, Page, page_render
from lambda_isr.errors import ConfigError

__all__ = ["AppAssets", "bind_bootstrap", "load_manifest"]


def load_manifest(value: ViteManifest | str | os.PathLike[str] | None) -> ViteManifest | None:
    """``FaceApp(manifest=...)``: a :class:`ViteManifest`, a path to one, or ``None``."""
    if value is None or isinstance(value, ViteManifest):
        return value
    if isinstance(value, str | os.PathLike):
        return ViteManifest.load(value)
    raise ConfigError(f"manifest must be a path or a ViteManifest, got {value!r}")


def _resolved(result: Any, manifest: ViteManifest, entry: EntryAssets | None) -> Any:
    """``result`` with a hydration bootstrap that names a manifest entry resolved: the entry's
    tags go in the head and the bootstrap script is not written again at the end of the body."""
    if not isinstance(result, Page) or result.hydration is None:
        return result
    boot = result.hydration.bootstrap
    if boot is None:
        return result
    hydration = replace(result.hydration, bootstrap=None)
    if entry is not None and boot in (entry.name, entry.script):
        return replace(result, hydration=hydration)  # the route's entry is in the head already
    if boot not in manifest:
        return result  # a plain URL, written as it is
    head = manifest.entry(boot).head() | result.head
    return replace(result, head=head, hydration=hydration)


def bind_bootstrap(
    face: Callable[..., Any], manifest: ViteManifest, entry: EntryAssets | None
) -> Callable[..., Any]:
    """``face`` whose pages may name a manifest entry as their hydration bootstrap (sync and
    async faces keep their kind)."""
    if inspect.iscoroutinefunction(face):

        async def resolve_async(*args: Any) -> Any:
            return _resolved(await face(*args), manifest, entry)

        return functools.wraps(face)(resolve_async)

    def resolve(*args: Any) -> Any:
        result = face(*args)
        if inspect.isawaitable(result):
            return _later(result, manifest, entry)
        return _resolved(result, manifest, entry)

    return functools.wraps(face)(resolve)


async def _later(result: Any, manifest: ViteManifest, entry: EntryAssets | None) -> Any:
    return _resolved(await result, manifest, entry)


class AppAssets:
    """A ``FaceApp``'s manifest and default entry (``FaceApp(manifest=, entry=)``), checked
    when the app is built; each face's render gets its entry's tags in its document head."""

    def __init__(
        self, manifest: ViteManifest | str | os.PathLike[str] | None, entry: str | None
    ) -> None:
        self.manifest = load_manifest(manifest)
        self.default_entry = entry
        if entry is not None:
            self.entry(entry)

    def entry(self, name: str | None) -> EntryAssets | None:
        """The assets of entry ``name`` (``None``: the app's default entry, if any)."""
        chosen = name if name is not None else self.default_entry
        if chosen is None:
            return None
        if not isinstance(chosen, str) or not chosen:
            raise ConfigError(f"entry must be a manifest key such as 'src/main.js', got {chosen!r}")
        if self.manifest is None:
            raise ConfigError(
                f"entry {chosen!r} needs the Vite manifest: "
                "FaceApp(manifest='dist/.vite/manifest.json')"
            )
        return self.manifest.entry(chosen)

    def page_render(
        self, face: Callable[..., Any], load: LoadFn | None, document: Document, entry: str | None
    ) -> Callable[[Any], Any]:
        """:func:`~lambda_isr.app.page.page_render` with the entry's tags in the head and a
        hydration bootstrap that names an entry resolved."""
        if self.manifest is None:
            self.entry(entry)  # an entry without a manifest is a ConfigError
            return page_render(face, load, document)
        assets = self.entry(entry)
        if assets is not None:
            document = Document(document.head | assets.head(), document.title_template)
        return page_render(bind_bootstrap(face, self.manifest, assets), load, document)
