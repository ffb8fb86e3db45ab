"""The API reference (issue 17): built with mkdocs --strict (a warning fails), it lists every
public name of ``lambda_isr``, every ``FaceRequest`` attribute and every option with its
default, and its code snippets come from files the test suite runs."""

from __future__ import annotations

import dataclasses
import enum
import html
import inspect
import re
import subprocess
import sys
from pathlib import Path

import pytest

import lambda_isr
from lambda_isr.app import FaceApp
from lambda_isr.face import PAGE_OPTIONS, isr_config, isr_face
from lambda_isr.handler import HANDLER_OPTIONS, FaceHandler
from lambda_isr.http.request import FaceRequest

ROOT = Path(__file__).resolve().parents[2]
OPTIONS_PAGE = ROOT / "docs" / "api" / "face.md"
_ROW = re.compile(r"^\| `(?P<name>[a-z_]+)` \| (?P<default>[^|]+) \|", re.MULTILINE)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Every page of the built reference, concatenated."""
    out = tmp_path_factory.mktemp("site")
    build = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert build.returncode == 0, build.stderr
    assert "WARNING" not in build.stderr
    return "\n".join(page.read_text() for page in sorted(out.rglob("*.html")))


def test_every_public_name_is_documented(site: str) -> None:
    exports: dict[str, str] = lambda_isr._EXPORTS
    missing = [
        name
        for name in lambda_isr.__all__
        if name != "__version__" and f'id="{exports[name]}.{name}"' not in site
    ]
    assert missing == []


def test_every_face_request_attribute_is_documented(site: str) -> None:
    names = [field.name for field in dataclasses.fields(FaceRequest)]
    names += [
        name
        for name, value in vars(FaceRequest).items()
        if not name.startswith("_") and isinstance(value, property | type(FaceRequest.first))
    ]
    assert "first" in names
    assert "host" in names
    missing = [n for n in names if f'id="lambda_isr.http.request.FaceRequest.{n}"' not in site]
    assert missing == []


def _shown(default: object) -> str:
    """A default as the options tables write it."""
    if default is inspect.Parameter.empty:
        return "required"
    if isinstance(default, enum.Enum):
        return f"{type(default).__name__}.{default.name}"
    if isinstance(default, frozenset | set):
        return ", ".join(str(v) for v in sorted(default))
    return repr(default)


def _defaults(fn: object, names: frozenset[str] | set[str]) -> dict[str, str]:
    parameters = inspect.signature(fn).parameters  # type: ignore[arg-type]
    return {name: _shown(parameters[name].default) for name in names}


def test_every_option_is_listed_with_its_default() -> None:
    rows: dict[str, list[str]] = {}
    for match in _ROW.finditer(OPTIONS_PAGE.read_text()):
        rows.setdefault(match["name"], []).append(match["default"])
    expected = {
        **_defaults(isr_config, set(PAGE_OPTIONS) | {"revalidate"}),
        **_defaults(FaceHandler.__init__, HANDLER_OPTIONS),
        **_defaults(isr_face, {"body_cache"}),
    }
    face = inspect.signature(FaceApp.face).parameters
    site_options = inspect.signature(FaceApp.__init__).parameters
    for parameters in (face, site_options):
        for name, parameter in parameters.items():
            if name in ("self", "route") or parameter.kind is parameter.VAR_KEYWORD:
                continue
            if name == "revalidate":  # required for ISR routes, forbidden for SSR ones
                continue
            expected.setdefault(name, _shown(parameter.default))
    wrong = {
        name: (shown, rows.get(name))
        for name, shown in expected.items()
        if not any(shown in cell for cell in rows.get(name, []))
    }
    assert wrong == {}


def test_snippets_come_from_tested_files(site: str) -> None:
    text = html.unescape(re.sub(r"<[^>]+>", "", site))
    tested = {
        "examples/blog/app.py": "tests/examples/test_examples.py",
        "examples/ssr_streaming/app.py": "tests/examples/test_examples.py",
        "layer/lambda_isr/site_template/handler/app.py": "tests/dev/test_init.py",
    }
    for path, test in tested.items():
        assert (ROOT / test).is_file(), test
        lines = [line for line in (ROOT / path).read_text().splitlines() if line.strip()]
        assert [line for line in lines if line not in text] == [], path


def test_the_readme_links_the_reference() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "make docs" in readme
    assert "build/site/index.html" in readme
