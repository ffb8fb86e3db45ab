"""Whole sites: :class:`FaceApp` (routes, modes, ``load``), :class:`PageHead`, hydration data."""

from __future__ import annotations

from lambda_isr.app.app import SITE_HOST_ENV, FaceApp, Mode, site_host
from lambda_isr.app.head import Link, Meta, PageHead, Script
from lambda_isr.app.hydration import Hydration, safe_json
from lambda_isr.app.page import Loaded, Page

__all__ = [
    "SITE_HOST_ENV",
    "FaceApp",
    "Hydration",
    "Link",
    "Loaded",
    "Meta",
    "Mode",
    "Page",
    "PageHead",
    "Script",
    "safe_json",
    "site_host",
]
