"""The demo's front end for tests: built by ``make -C handler frontend`` (npm ci of the pinned
Vite, then vite build) when its manifest is missing or older than its sources."""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HANDLER = ROOT / "handler"
DIST = HANDLER / "dist"
MANIFEST = DIST / ".vite" / "manifest.json"


def ensure_frontend() -> Path:
    """The demo's built ``dist/`` folder (building it when needed; make decides)."""
    done = subprocess.run(
        ["make", "--no-print-directory", "-C", str(HANDLER), "frontend"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if done.returncode != 0 or not MANIFEST.is_file():
        raise AssertionError(f"the demo's front end did not build:\n{done.stdout}{done.stderr}")
    return DIST
