"""Starting a face: whatever it returns becomes a response head plus a stream of byte chunks.

:func:`start_render` calls the face and pulls its **first non-empty chunk** (or, when ``eager``,
every chunk) before anything is sent, so a failure there is still clean: the caller can answer
with a stale copy or an error page. Sync and async faces and bodies are driven one way, by a
:class:`~lambda_isr.body.BodyDriver` (its docstring states the event loop policy).

What a face may return: ``str``, ``bytes``, a sync or async iterable of them, or a
:class:`~lambda_isr.http.response.FaceResult`. Anything else (a dict, ``None``, a number) is a
``TypeError`` naming the face and the value: never an empty or garbled page, never cached.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any, TypeVar

from lambda_isr.body import BodyCancelledError, BodyDriver
from lambda_isr.http.response import FaceResult
from lambda_isr.runtime.writer import normalise_head

T = TypeVar("T")

RenderCancelledError = BodyCancelledError
"""An async face was cancelled mid-render (kept name; see :class:`BodyCancelledError`)."""

_TEXT = (str, bytes, bytearray, memoryview)


class RenderStream:
    """A started render: its head is known; its first chunk (or every chunk) is pulled."""

    def __init__(
        self,
        *,
        status: int,
        headers: dict[str, str],
        cookies: list[str],
        chunks: Iterator[bytes],
        driver: BodyDriver,
        closer: Callable[[], None],
    ) -> None:
        self.status = status
        self.headers = headers
        self.cookies = cookies
        self._chunks = chunks
        self._driver = driver
        self._closer = closer
        self.prefetched: list[bytes] = []
        self.exhausted = False
        self.tags: frozenset[str] = frozenset()
        """Cache tags the face gave this render (``FaceResult(tags=...)``)."""

    def _pull(self) -> bytes | None:
        while True:
            try:
                chunk = next(self._chunks)
            except StopIteration:
                self.exhausted = True
                return None
            if chunk:
                return chunk

    def prefetch(self, everything: bool) -> None:
        while not self.exhausted:
            chunk = self._pull()
            if chunk is not None:
                self.prefetched.append(chunk)
                if not everything:
                    return

    def chunks(self) -> Iterator[bytes]:
        """Every chunk, prefetched ones first. Exceptions from the face propagate."""
        yield from self.prefetched
        self.prefetched = []
        while not self.exhausted:
            chunk = self._pull()
            if chunk is not None:
                yield chunk

    def close(self) -> None:
        try:
            self._closer()
        finally:
            self._driver.close()


def face_name(face: object) -> str:
    module = getattr(face, "__module__", None) or "?"
    name = getattr(face, "__qualname__", None) or type(face).__name__
    return f"{module}.{name}"


def _bytes_of(items: Iterator[Any], face: object) -> Iterator[bytes]:
    for item in items:
        if isinstance(item, str):
            yield item.encode("utf-8")
        elif isinstance(item, bytes | bytearray | memoryview):
            yield bytes(item)
        else:
            raise TypeError(
                f"face {face_name(face)} yielded a {type(item).__name__} ({item!r:.60}):"
                " a body yields str or bytes"
            )


def _check_body(value: object, face: object) -> None:
    if value is None or isinstance(value, Mapping):
        what = "None" if value is None else f"a {type(value).__name__} ({value!r:.60})"
        raise TypeError(
            f"face {face_name(face)} returned {what}: a face returns str, bytes, an (async)"
            " iterable of them, or FaceResult(status, headers, cookies, body)"
        )


def start_render(face: Callable[[T], Any], arg: T, *, eager: bool) -> RenderStream:
    """Call ``face(arg)`` and pull its first chunk (every chunk when ``eager``)."""
    driver = BodyDriver()
    stream: RenderStream | None = None
    try:
        result = driver.resolve(face(arg))
        status, body = 200, result
        headers: dict[str, str] = {}
        cookies: list[str] = []
        tags: frozenset[str] = frozenset()
        if isinstance(result, FaceResult):
            tags = _tags(result.tags, face)
            status, headers, cookies = normalise_head(
                result.status, result.headers, list(result.cookies)
            )
            body = result.body
        else:
            _check_body(result, face)
        if isinstance(body, Mapping) or (
            not isinstance(body, _TEXT) and body is not None and not _iterable(body)
        ):
            raise TypeError(
                f"face {face_name(face)} returned a body of type {type(body).__name__}:"
                " str, bytes or an (async) iterable of them"
            )
        items, closer = driver.items(body)
        stream = RenderStream(
            status=status,
            headers=headers,
            cookies=cookies,
            chunks=_bytes_of(items, face),
            driver=driver,
            closer=closer,
        )
        stream.tags = tags
        stream.prefetch(everything=eager)
        return stream
    except BaseException:
        if stream is not None:
            stream.close()
        else:
            driver.close()
        raise


def _tags(tags: object, face: object) -> frozenset[str]:
    from lambda_isr.store.index import check_tags  # noqa: PLC0415 - tagged renders only

    if not tags:
        return frozenset()
    try:
        return check_tags(
            tags if isinstance(tags, list | tuple | set | frozenset) else [tags],
            where=f"face {face_name(face)}",
        )
    except ValueError as exc:
        raise TypeError(str(exc)) from exc


def _iterable(value: object) -> bool:
    return hasattr(value, "__iter__") or hasattr(value, "__aiter__")
