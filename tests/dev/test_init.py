"""``lambda-isr init DIR`` writes a site that works at once (its own tests pass, it lints and
type-checks clean, ``lambda-isr dev`` serves it), and ``lambda-isr layer`` builds the layer from
the installed package. ``make init-check`` also runs ``sam validate --lint`` on its template."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from lambda_isr import layer_build
from lambda_isr.cli import main
from lambda_isr.dev.log import DevLog
from lambda_isr.dev.runner import DevConfig, DevServer
from lambda_isr.init_site import site_name
from lambda_isr.namespace import namespace_for_file
from tests.dev.helpers import Dev, LogBuffer, worker_environ

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("sites") / "My Blog"
    assert main(["init", str(folder)]) == 0
    return folder


def _run(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("FACETHEORY_", "LAMBDA_"))}
    return subprocess.run(
        args, cwd=cwd, capture_output=True, text=True, timeout=300, check=False,
        env={**clean, **env},
    )  # fmt: skip


def test_init_writes_every_file_with_the_site_name(site: Path) -> None:
    files = sorted(str(p.relative_to(site)) for p in site.rglob("*") if p.is_file())
    assert files == [
        ".gitignore",
        "README.md",
        "events/get-post.json",
        "events/get.json",
        "handler/app.py",
        "handler/requirements.txt",
        "pyproject.toml",
        "samconfig.toml",
        "template.yaml",
        "tests/conftest.py",
        "tests/test_site.py",
    ]
    assert site_name(site) == "my-blog"
    assert 'stack_name = "my-blog"' in (site / "samconfig.toml").read_text()
    assert "ContentUri: build/layer/" in (site / "template.yaml").read_text()
    assert "lambda-isr layer --out build/layer" in (site / "README.md").read_text()
    leftovers = [p for p in site.rglob("*") if p.is_file() and "__SITE_" in p.read_text()]
    assert leftovers == []


def test_the_new_site_passes_its_own_tests(site: Path) -> None:
    done = _run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], site)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "4 passed" in done.stdout


def test_the_new_site_lints_and_type_checks_clean(site: Path, tmp_path: Path) -> None:
    for command in (["ruff", "check", "."], ["ruff", "format", "--check", "."]):
        done = _run([str(BIN / command[0]), *command[1:]], site)
        assert done.returncode == 0, done.stdout + done.stderr
    done = _run([str(BIN / "mypy"), "--cache-dir", str(tmp_path / "mypy")], site)
    assert done.returncode == 0, done.stdout


def test_the_new_site_serves_with_dev_in_its_own_namespace(site: Path, tmp_path: Path) -> None:
    log = LogBuffer()
    env = worker_environ(tmp_path)
    config = DevConfig(task_root=site / "handler", port=0, workers=1, environ=env)
    with DevServer(config, DevLog(log)) as server:
        dev = Dev(server, log, site, tmp_path / "renders.log")
        first, second = dev.get("/posts/streaming"), dev.get("/posts/streaming")
        missing, now = dev.get("/posts/nope"), dev.get("/now")
    assert (first.status, first.header("x-isr-cache")) == (200, "miss")
    assert second.header("x-isr-cache") == "hit"
    assert len(first.chunks) >= 2  # the document head, then the article as it renders
    assert b"This article reached your browser" in first.body
    assert missing.status == 404
    assert now.status == 200
    store = Path(env["LAMBDA_ISR_DIR"])  # one store folder: the app's namespace
    used = [p.parent.name for p in store.rglob("meta.sqlite3")]
    app_file = site / "handler" / "app.py"
    assert used in ([namespace_for_file(app_file)], [store.name])  # the latter: see handler.py


def test_init_refuses_a_folder_that_is_not_empty(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "notes.txt").write_text("mine")
    assert main(["init", str(tmp_path / "taken")]) == 2
    (tmp_path / "file").write_text("x")
    assert main(["init", str(tmp_path / "file")]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err == [
        f"lambda-isr init: {tmp_path / 'taken'} is not empty: pass a new or empty folder",
        f"lambda-isr init: {tmp_path / 'file'} is a file: pass the path of a new folder",
    ]
    assert (tmp_path / "taken" / "notes.txt").read_text() == "mine"


def test_make_layer_runs_the_package_layer_builder() -> None:
    sys.path.insert(0, str(ROOT / "layer"))
    try:
        import build_layer  # noqa: PLC0415
    finally:
        sys.path.remove(str(ROOT / "layer"))
    assert build_layer.DEV_ONLY is layer_build.DEV_ONLY
    assert build_layer.build is layer_build.build
    assert build_layer.PACKAGE == layer_build.PACKAGE == ROOT / "layer" / "lambda_isr"
    for name in ("lambda-isr-wrapper", "requirements.txt"):
        assert (layer_build.FILES / name).read_bytes() == (ROOT / "layer" / name).read_bytes()


@pytest.mark.slow
def test_lambda_isr_layer_builds_the_layer_from_the_package(tmp_path: Path) -> None:
    out = tmp_path / "layer"
    assert main(["layer", "--out", str(out), "--no-pyc", "--zip", str(tmp_path / "l.zip")]) == 0
    package = out / "python" / "lambda_isr"
    assert (package / "runtime" / "loop.py").is_file()
    assert (package / "namespace.py").is_file()
    assert [path for path in layer_build.DEV_ONLY if (package / path).exists()] == []
    assert (out / "python" / "boto3").is_dir()
    assert not list((out / "python").glob("awscrt*"))
    assert (out / "lambda-isr-wrapper").stat().st_mode & 0o777 == 0o755
    assert (tmp_path / "l.zip").stat().st_size > 1_000_000


def test_lambda_isr_layer_rejects_a_runtime_lambda_does_not_have(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["layer", "--out", str(tmp_path / "x"), "--python", "3.9"]) == 2
    assert "use 3.12 or 3.13" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()
