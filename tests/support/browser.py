"""Headless Chromium for tests: installed on demand (Debian package ``chromium``), run with a
fresh profile; :func:`dump_dom` returns the DOM after the page finished loading."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
)


class BrowserUnavailableError(RuntimeError):
    """Chromium is missing and could not be installed (the test fails with this reason)."""


def _apt(*args: str) -> None:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    try:
        done = subprocess.run(
            ["apt-get", *args], env=env, capture_output=True, text=True, timeout=1200, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise BrowserUnavailableError(f"apt-get {' '.join(args)} failed: {exc}") from exc
    if done.returncode != 0:
        tail = (done.stdout + done.stderr)[-2000:]
        raise BrowserUnavailableError(f"apt-get {' '.join(args)} exited {done.returncode}:\n{tail}")


def ensure_chromium() -> Path:
    """``/usr/bin/chromium``, installing it with apt-get when it is missing."""
    if CHROMIUM.exists():
        return CHROMIUM
    if shutil.which("apt-get") is None:
        raise BrowserUnavailableError(f"{CHROMIUM} is missing and there is no apt-get")
    _apt("update")
    _apt("install", "-y", "chromium")
    if not CHROMIUM.exists():
        raise BrowserUnavailableError(f"apt-get installed chromium but {CHROMIUM} is missing")
    return CHROMIUM


def dump_dom(url: str, *, timeout: float = 90.0) -> str:
    """Load ``url`` in a fresh headless Chromium and return the serialized DOM after load."""
    chromium = ensure_chromium()
    with tempfile.TemporaryDirectory(prefix="chromium-") as profile:
        done = subprocess.run(
            [str(chromium), *FLAGS, f"--user-data-dir={profile}", "--dump-dom", url],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    if done.returncode != 0 or not done.stdout.strip():
        raise AssertionError(f"chromium exited {done.returncode} for {url}:\n{done.stderr[-3000:]}")
    return done.stdout
