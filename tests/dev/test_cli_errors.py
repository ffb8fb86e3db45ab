"""``lambda-isr`` errors as a user meets them: one line on stderr naming the problem and the fix,
a non-zero exit (2 for usage errors), never a traceback; ``--version``; defaults in ``--help``."""

from __future__ import annotations

import json
import socket
import tomllib
from pathlib import Path

import pytest

import lambda_isr
from tests.dev.cli_support import REPO, copy_site, run_cli

pytestmark = pytest.mark.slow


def _one_line(stderr: str) -> str:
    assert "Traceback" not in stderr, stderr
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    return lines[0]


@pytest.fixture
def event(tmp_path: Path) -> Path:
    path = tmp_path / "event.json"
    path.write_text(json.dumps({"rawPath": "/string"}))
    return path


def test_version_is_the_package_version(tmp_path: Path) -> None:
    done = run_cli(tmp_path, "--version")
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert done.returncode == 0
    assert done.stdout.strip() == f"lambda-isr {lambda_isr.__version__}"
    assert lambda_isr.__version__ == project["version"]


def test_help_shows_the_defaults(tmp_path: Path) -> None:
    wide = {"COLUMNS": "300"}  # one line per option
    dev = run_cli(tmp_path, "dev", "--help", env=wide).stdout
    invoke = run_cli(tmp_path, "invoke", "--help", env=wide).stdout
    for default in ("app.handler", "handler", "127.0.0.1", "3000", "2", "60.0"):
        assert f"(default: {default})" in dev
    for default in ("app.handler", ".", "30.0"):
        assert f"(default: {default})" in invoke


def test_missing_event_file(tmp_path: Path) -> None:
    done = run_cli(
        tmp_path, "invoke", "nope.json", "app.plain", "--task-root", str(copy_site(tmp_path))
    )
    assert done.returncode == 2
    assert "event file nope.json not found" in _one_line(done.stderr)


def test_event_file_that_is_not_json(tmp_path: Path) -> None:
    (tmp_path / "bad.json").write_text('{"rawPath": ')
    done = run_cli(
        tmp_path, "invoke", "bad.json", "app.plain", "--task-root", str(copy_site(tmp_path))
    )
    assert done.returncode == 2
    assert "event file bad.json is not JSON (line 1, column 13)" in _one_line(done.stderr)


def test_port_out_of_range(tmp_path: Path) -> None:
    done = run_cli(tmp_path, "dev", "app.stream", "--port", "80000", "--task-root", str(tmp_path))
    assert done.returncode == 2
    line = _one_line(done.stderr)
    assert "argument --port: '80000' is not a TCP port" in line
    assert "0 to pick a free port" in line


def test_busy_port_names_the_port_and_the_option(tmp_path: Path) -> None:
    root = copy_site(tmp_path)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = run_cli(tmp_path, "dev", "app.stream", "--port", str(port), "--task-root", str(root))
    assert done.returncode == 1
    line = _one_line(done.stderr)
    assert f"port {port} on 127.0.0.1 is already in use" in line
    assert "--port" in line


@pytest.mark.parametrize("command", ["dev", "invoke"])
def test_handler_without_a_module(tmp_path: Path, event: Path, command: str) -> None:
    args = ["dev", "handler"] if command == "dev" else ["invoke", str(event), "handler"]
    done = run_cli(tmp_path, *args, "--task-root", str(copy_site(tmp_path)))
    assert done.returncode == 2
    assert "'handler' is not module.function" in _one_line(done.stderr)
    assert "app.handler" in done.stderr


@pytest.mark.parametrize("command", ["dev", "invoke"])
def test_task_root_that_does_not_exist(tmp_path: Path, event: Path, command: str) -> None:
    args = ["dev"] if command == "dev" else ["invoke", str(event)]
    done = run_cli(tmp_path, *args, "app.plain", "--task-root", "/nope")
    assert done.returncode == 2
    line = _one_line(done.stderr)
    assert "--task-root /nope does not exist" in line
    assert "pass the folder that holds the handler's module" in line


@pytest.mark.parametrize("command", ["dev", "invoke"])
def test_module_not_in_the_task_root(tmp_path: Path, event: Path, command: str) -> None:
    args = ["dev"] if command == "dev" else ["invoke", str(event)]
    done = run_cli(tmp_path, *args, "nowhere.handler", "--task-root", str(tmp_path))
    assert done.returncode == 2
    line = _one_line(done.stderr)
    assert f"no module 'nowhere' in {tmp_path}" in line
    assert "--task-root" in line


def test_invoke_takes_the_handler_as_an_argument_and_still_as_an_option(
    tmp_path: Path, event: Path
) -> None:
    root = str(copy_site(tmp_path))
    positional = run_cli(tmp_path, "invoke", str(event), "app.plain", "--task-root", root)
    option = run_cli(tmp_path, "invoke", str(event), "--handler", "app.plain", "--task-root", root)
    assert positional.returncode == option.returncode == 0
    assert '"hello"' in positional.stdout
    assert positional.stdout.splitlines()[-1] == option.stdout.splitlines()[-1]
    assert positional.stderr == ""
    assert "--handler is deprecated" in _one_line(option.stderr)
    both = run_cli(tmp_path, "invoke", str(event), "app.plain", "--handler", "app.stream")
    assert both.returncode == 2
    assert "two handlers" in _one_line(both.stderr)


@pytest.mark.parametrize(
    ("handler", "source", "expected"),
    [
        ("app.nope", None, "Runtime.HandlerNotFound: Handler 'nope' missing on module 'app'"),
        ("app.stream", "\ndef broken(:\n", "Runtime.UserCodeSyntaxError"),
        ("app.stream", "\nraise ValueError('bad config')\n", "ValueError: bad config ("),
    ],
)
def test_dev_refuses_a_handler_that_cannot_be_imported(
    tmp_path: Path, handler: str, source: str | None, expected: str
) -> None:
    root = copy_site(tmp_path)
    if source is not None:
        (root / "app.py").write_text((root / "app.py").read_text() + source)
    done = run_cli(tmp_path, "dev", handler, "--port", "0", "--task-root", str(root))
    assert done.returncode == 1
    line = _one_line(done.stderr)  # no worker was started, so nothing else was logged
    assert line.startswith(f"lambda-isr dev: cannot import the handler {handler} from {root}")
    assert expected in line
    assert "--reload" in line


def test_readme_invoke_example_answers_200_on_the_demo(tmp_path: Path) -> None:
    readme = (REPO / "README.md").read_text()
    example = next(
        line.split("`")[1] for line in readme.splitlines() if line.startswith("`lambda-isr invoke ")
    )
    args = example.split()[1:]
    done = run_cli(tmp_path, *args, cwd=REPO, env={"DEMO_DATA_DELAY": "0"})
    assert done.returncode == 0, done.stderr
    assert "status 200" in done.stdout
    assert "Hello, streaming world" in done.stdout
