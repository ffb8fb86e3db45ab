"""The visible error banner: what a developer sees when a page fails after bytes were sent.

In production a late failure ends the page with the invisible error footer (a ``<template>``
marker) and Lambda's error trailers: the reader sees a page that stops. With
``LAMBDA_ISR_ERROR_BANNER=1`` (``lambda-isr dev`` sets it for its workers) the footer is
followed by a banner fixed to the bottom of the window, naming the request id and where the
traceback is. It never changes what is cached: a failed render is never stored.
"""

from __future__ import annotations

import html
from collections.abc import Mapping

from lambda_isr.settings import error_banner_enabled

__all__ = ["error_banner", "error_footer"]

_STYLE = (
    "position:fixed;left:0;right:0;bottom:0;z-index:2147483647;margin:0;padding:12px 16px;"
    "background:#b00020;color:#fff;font:14px/1.4 system-ui,sans-serif;white-space:normal"
)


def error_banner(request_id: str) -> str:
    """The banner's HTML (every value escaped)."""
    rid = html.escape(request_id, quote=True)
    return (
        f'<div data-lambda-isr-error-banner role="alert" style="{_STYLE}">'
        "<strong>lambda-isr: this page failed while it was rendering.</strong> "
        f"What was sent before the failure is above. Request <code>{rid}</code>: its "
        "traceback is in the log. Nothing was cached; the previous page is still served. "
        "(Shown because LAMBDA_ISR_ERROR_BANNER is set.)</div>"
    )


def error_footer(request_id: str, environ: Mapping[str, str] | None = None) -> str:
    """The invisible marker, plus the banner when ``LAMBDA_ISR_ERROR_BANNER`` asks for it."""
    rid = html.escape(request_id, quote=True)
    marker = f'<template data-lambda-isr-error data-request-id="{rid}"></template>'
    if error_banner_enabled(environ):
        return marker + error_banner(request_id)
    return marker
