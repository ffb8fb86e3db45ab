"""``/assets/*`` in ``lambda-isr dev``: the build output with its content types and the
immutable Cache-Control, 404 for a missing file, and no way out of the assets folder."""

from __future__ import annotations

import http.client
import os
from pathlib import Path

import pytest

from lambda_isr.app.assets import IMMUTABLE
from lambda_isr.dev.assets import ENV_ASSETS_DIR, asset_answer, assets_dir
from tests.dev.helpers import dev_server


@pytest.fixture
def task_root(tmp_path: Path) -> Path:
    root = tmp_path / "task"
    (root / "dist" / "assets" / "sub").mkdir(parents=True)
    (root / "dist" / "assets" / "main-abc.js").write_text("console.log(1)\n")
    (root / "dist" / "assets" / "main-abc.css").write_text("body{color:red}\n")
    (root / "dist" / "assets" / "sub" / "font.woff2").write_bytes(b"\x00font")
    (root / "dist" / ".vite").mkdir()
    (root / "dist" / ".vite" / "manifest.json").write_text("{}")
    (root / "app.py").write_text("SECRET = 1\n")
    (tmp_path / "outside.js").write_text("outside\n")
    (root / "dist" / "assets" / "link.js").symlink_to(tmp_path / "outside.js")
    return root


def test_assets_are_served_with_type_and_immutable_cache_control(task_root: Path) -> None:
    for target, kind, body in [
        ("/assets/main-abc.js", "text/javascript; charset=utf-8", b"console.log(1)\n"),
        ("/assets/main-abc.css?v=1", "text/css; charset=utf-8", b"body{color:red}\n"),
        ("/assets/sub/font.woff2", "font/woff2", b"\x00font"),
        ("/assets/main%2Dabc.js", "text/javascript; charset=utf-8", b"console.log(1)\n"),
    ]:
        answer = asset_answer("GET", target, task_root, {})
        assert answer is not None, target
        headers = dict(answer.headers)
        assert (answer.status, headers["content-type"], answer.body) == (200, kind, body)
        assert headers["cache-control"] == IMMUTABLE


@pytest.mark.parametrize(
    "target",
    [
        "/assets/missing.js",
        "/assets/",
        "/assets/sub",
        "/assets/../app.py",
        "/assets/%2e%2e/app.py",
        "/assets/..%2fapp.py",
        "/assets/sub/../../app.py",
        "/assets/..\\app.py",
        "/assets/%5c..%5capp.py",
        "/assets//etc/passwd",
        "/assets/%00.js",
        "/assets/%ff.js",
        "/assets/link.js",  # a symlink out of the folder
        "/assets/../.vite/manifest.json",
    ],
)
def test_a_missing_file_or_a_way_out_is_a_404(task_root: Path, target: str) -> None:
    answer = asset_answer("GET", target, task_root, {})
    assert answer is not None
    assert answer.status == 404
    assert b"SECRET" not in answer.body
    assert b"outside" not in answer.body


def test_other_paths_and_methods_go_to_the_function(task_root: Path) -> None:
    assert asset_answer("GET", "/", task_root, {}) is None
    assert asset_answer("GET", "/assetsx/main-abc.js", task_root, {}) is None
    assert asset_answer("POST", "/assets/main-abc.js", task_root, {}) is None


def test_the_folder_is_configurable(task_root: Path, tmp_path: Path) -> None:
    assert assets_dir(task_root, {}) == task_root / "dist"
    other = tmp_path / "elsewhere"
    (other / "assets").mkdir(parents=True)
    (other / "assets" / "x.svg").write_text("<svg/>")
    answer = asset_answer("GET", "/assets/x.svg", task_root, {ENV_ASSETS_DIR: str(other)})
    assert answer is not None
    assert (answer.status, dict(answer.headers)["content-type"]) == (200, "image/svg+xml")


def raw_get(address: tuple[str, int], method: str, target: str) -> http.client.HTTPResponse:
    conn = http.client.HTTPConnection(*address, timeout=30)
    conn.putrequest(method, target, skip_accept_encoding=True)
    conn.endheaders()
    response = conn.getresponse()
    response.read()
    conn.close()
    return response


def test_the_dev_server_serves_assets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assets = tmp_path / "built"
    (assets / "assets").mkdir(parents=True)
    (assets / "assets" / "app-1.js").write_text("export {}\n")
    (tmp_path / "secret.txt").write_text("secret\n")
    monkeypatch.setitem(os.environ, ENV_ASSETS_DIR, str(assets))
    with dev_server(tmp_path, "app.stream", workers=1) as dev:
        ok = dev.get("/assets/app-1.js")
        assert (ok.status, ok.body) == (200, b"export {}\n")
        assert ok.header("content-type") == "text/javascript; charset=utf-8"
        assert ok.header("cache-control") == IMMUTABLE
        head = raw_get(dev.address, "HEAD", "/assets/app-1.js")
        assert (head.status, head.getheader("content-length")) == (200, "10")
        assert dev.get("/assets/nope.js").status == 404
        assert raw_get(dev.address, "GET", "/assets/../../secret.txt").status == 404
        assert raw_get(dev.address, "GET", "/assets/%2e%2e/%2e%2e/secret.txt").status == 404
        dev.log.wait_for("GET /assets/app-1.js 200")
