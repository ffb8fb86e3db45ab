"""The response-writer contract between handlers and whatever carries the response.

A streaming-aware handler receives a :class:`ResponseWriter`. Under the layer's runtime it is a
live response stream to the Runtime API (chunks leave as they are written); under the stock
runtime, ``sam local invoke`` or a BUFFERED Function URL it is a :class:`BufferedWriter` that
collects the Function URL response dict. The handler code is the same for both.

Order of calls: ``start`` once (optional: the first ``write`` starts with 200 and no headers),
any number of ``write``, then exactly one of ``end`` or ``fail``. After ``end`` the client has the
whole response; the handler may keep working (store the page, commit metadata) before returning.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

from lambda_isr.errors import HeaderValueError, ResponseStateError

HeaderInput = Mapping[str, str | Sequence[str]]

_BAD_NAME = frozenset("\r\n\0: ")


def _unsafe(value: str) -> bool:
    """CR, LF or NUL anywhere (three C-level scans: the hot path of every response head)."""
    return "\r" in value or "\n" in value or "\0" in value


def normalise_head(
    status: int, headers: HeaderInput | None, cookies: Sequence[str]
) -> tuple[int, dict[str, str], list[str]]:
    """Validate and fold a response head.

    Header names are lowercased; repeated values are folded with ``", "``; ``set-cookie``
    headers move to ``cookies``. Raises :class:`HeaderValueError` for CR/LF/NUL anywhere or a
    status outside 100-599, before anything is sent.
    """
    if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
        raise HeaderValueError(f"status must be an integer 100-599, got {status!r}")
    if type(headers) is dict and not cookies:
        fast = _fast_head(headers)
        if fast is not None:
            return status, fast, []
    folded: dict[str, str] = {}
    out_cookies: list[str] = []
    for raw_name, raw_value in (headers or {}).items():
        name = str(raw_name).strip().lower()
        if not name or not _BAD_NAME.isdisjoint(name):
            raise HeaderValueError(f"invalid header name {raw_name!r}")
        values = [raw_value] if isinstance(raw_value, str) else list(raw_value)
        for value in values:
            if not isinstance(value, str):
                raise HeaderValueError(f"header {name!r} value must be str, got {type(value)}")
            if _unsafe(value):
                raise HeaderValueError(f"header {name!r} value contains CR, LF or NUL")
        if name == "set-cookie":
            out_cookies.extend(values)
            continue
        if not values:
            continue
        joined = ", ".join(values)
        folded[name] = f"{folded[name]}, {joined}" if name in folded else joined
    for cookie in cookies:
        if not isinstance(cookie, str) or _unsafe(cookie):
            raise HeaderValueError("cookie values must be str without CR, LF or NUL")
        out_cookies.append(cookie)
    return status, folded, out_cookies


def _fast_head(headers: dict[Any, Any]) -> dict[str, str] | None:
    """The common head (str names already lowercase, printable and clean, str values, no
    ``set-cookie``) validated with C-level scans; ``None`` sends it down the general path,
    which gives the same answer or the precise error."""
    if not {str}.issuperset(map(type, headers)) or not {str}.issuperset(
        map(type, headers.values())
    ):
        return None
    names = "".join(headers)
    if (
        names != names.lower()
        or not names.isprintable()
        or not _BAD_NAME.isdisjoint(names)
        or "" in headers
        or "set-cookie" in headers
        or _unsafe("".join(headers.values()))
    ):
        return None
    return dict(headers)


def to_bytes(data: bytes | bytearray | memoryview | str) -> bytes:
    if isinstance(data, str):
        return data.encode("utf-8")
    if isinstance(data, bytes | bytearray | memoryview):
        return bytes(data)
    raise TypeError(f"response body chunks must be str or bytes, got {type(data).__name__}")


@runtime_checkable
class ResponseWriter(Protocol):
    """Where a streaming-aware handler writes its response."""

    @property
    def started(self) -> bool:
        """True once the head (status, headers, cookies) was committed."""
        ...

    @property
    def finished(self) -> bool:
        """True after ``end`` or ``fail``."""
        ...

    @property
    def bytes_written(self) -> int:
        """Body bytes written so far."""
        ...

    def start(
        self, status: int = 200, headers: HeaderInput | None = None, cookies: Sequence[str] = ()
    ) -> None:
        """Commit the head. Raises :class:`ResponseStateError` when called twice."""
        ...

    def write(self, data: bytes | str) -> None:
        """Send a body chunk now (starts with 200 if ``start`` was not called)."""
        ...

    def end(self) -> None:
        """Finish the response normally (the terminating chunk is always sent)."""
        ...

    def fail(self, error: BaseException) -> None:
        """Finish with an error: before the head, an invocation error (Lambda answers 502);
        after it, the error trailers on the terminating chunk (bytes already sent stay)."""
        ...


def respond(
    writer: ResponseWriter,
    status: int,
    headers: HeaderInput | None,
    cookies: Sequence[str],
    body: bytes,
) -> None:
    """A whole answer known up front: the writer's own ``respond`` when it has one (the live
    stream sends it in one write), else ``start``, ``write`` and ``end``. Same bytes, same
    errors, either way."""
    whole = getattr(writer, "respond", None)
    if whole is not None:
        whole(status, headers, cookies, body)
        return
    writer.start(status, headers, cookies)
    if body:
        writer.write(body)
    writer.end()


class BufferedWriter:
    """Collects a response into the buffered Function URL response dict."""

    def __init__(self) -> None:
        self._status = 200
        self._headers: dict[str, str] = {}
        self._cookies: list[str] = []
        self._body: list[bytes] = []
        self._size = 0
        self._started = False
        self._finished = False
        self.error: BaseException | None = None

    @property
    def started(self) -> bool:
        return self._started

    @property
    def finished(self) -> bool:
        return self._finished

    @property
    def bytes_written(self) -> int:
        return self._size

    def start(
        self, status: int = 200, headers: HeaderInput | None = None, cookies: Sequence[str] = ()
    ) -> None:
        if self._started:
            raise ResponseStateError("response already started")
        self._status, self._headers, self._cookies = normalise_head(status, headers, cookies)
        self._started = True

    def write(self, data: bytes | str) -> None:
        if self._finished:
            raise ResponseStateError("write after the response ended")
        if not self._started:
            self.start()
        chunk = to_bytes(data)
        self._body.append(chunk)
        self._size += len(chunk)

    def end(self) -> None:
        if self._finished:
            raise ResponseStateError("response already ended")
        if not self._started:
            self.start()
        self._finished = True

    def respond(
        self, status: int, headers: HeaderInput | None, cookies: Sequence[str], body: bytes
    ) -> None:
        """``start``, ``write(body)`` and ``end`` at once."""
        self.start(status, headers, cookies)
        if body:
            self.write(body)
        self.end()

    def fail(self, error: BaseException) -> None:
        if self._finished:
            raise ResponseStateError("response already ended")
        self.error = error
        self._finished = True

    @property
    def status(self) -> int:
        return self._status

    @property
    def headers(self) -> dict[str, str]:
        """The folded, lowercased head headers."""
        return self._headers

    @property
    def cookies(self) -> list[str]:
        return self._cookies

    @property
    def body(self) -> bytes:
        return b"".join(self._body)

    def to_function_url_response(self) -> dict[str, Any]:
        """The buffered Function URL result. Text bodies as UTF-8, others base64-encoded."""
        body = self.body
        result: dict[str, Any] = {
            "statusCode": self._status,
            "headers": dict(self._headers),
            "cookies": list(self._cookies),
        }
        try:
            result["body"] = body.decode("utf-8")
            result["isBase64Encoded"] = False
        except UnicodeDecodeError:
            result["body"] = base64.b64encode(body).decode("ascii")
            result["isBase64Encoded"] = True
        return result
