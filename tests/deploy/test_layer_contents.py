"""The layer ships only what runs in Lambda: the dev tooling listed in ``build_layer.DEV_ONLY``
stays in the repository and the wheel, and every module left in the layer imports with only the
layer on ``sys.path`` (its own pinned dependencies, no repository, no site-packages)."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "layer"))
import build_layer  # noqa: E402

MUST_IMPORT = (
    "lambda_isr",
    "lambda_isr.runtime",
    "lambda_isr.runtime.loop",
    "lambda_isr.face",
    "lambda_isr.store.config",
    "lambda_isr.store.dynamodb",
    "lambda_isr.store.s3",
)


def _module_name(path: str) -> str:
    """``runtime/local_api.py`` -> ``lambda_isr.runtime.local_api``."""
    return ".".join(["lambda_isr", *Path(path).with_suffix("").parts])


DEV_MODULES = tuple(_module_name(path) for path in build_layer.DEV_ONLY)


def _is_dev(module: str) -> bool:
    return any(module == dev or module.startswith(f"{dev}.") for dev in DEV_MODULES)


@pytest.fixture(scope="module")
def package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("layer-contents") / "opt"
    build_layer.build(out, "x86_64", "3.13")
    return out / "python" / "lambda_isr"


def _module_of(package: Path, source: Path) -> str:
    """The dotted name of a ``.py`` file of the layer's ``lambda_isr`` folder."""
    parts = source.relative_to(package.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _layer_modules(package: Path) -> list[str]:
    return [_module_of(package, path) for path in sorted(package.rglob("*.py"))]


def test_the_wheel_still_has_the_dev_tooling() -> None:
    for path in build_layer.DEV_ONLY:
        assert (build_layer.PACKAGE / path).exists(), path


def test_no_dev_tooling_in_the_layer(package: Path) -> None:
    for path in build_layer.DEV_ONLY:
        assert not (package / path).exists(), path
    leaked = [name for name in _layer_modules(package) if _is_dev(name)]
    assert not leaked
    pycs = list(package.rglob("*.pyc"))
    assert pycs
    sources = [pyc.parent.parent / f"{pyc.name.split('.')[0]}.py" for pyc in pycs]
    assert not [src for src in sources if _is_dev(_module_of(package, src))]
    assert set(MUST_IMPORT) <= set(_layer_modules(package))


def _imported_names(path: Path, module: str) -> set[str]:
    """Every module ``path`` may import, at any depth (lazy imports included), plus string
    constants naming a module (``importlib.import_module("lambda_isr.x")``)."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}" if base else anchor
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            names.add(node.value)
    return names


def test_no_layer_module_refers_to_dev_tooling(package: Path) -> None:
    offenders = {}
    for path in sorted(package.rglob("*.py")):
        module = _module_of(package, path)
        bad = sorted(name for name in _imported_names(path, module) if _is_dev(name))
        if bad:
            offenders[module] = bad
    assert not offenders


def test_every_layer_module_imports_from_the_layer_alone(package: Path) -> None:
    python = build_layer.find_python("3.13")
    modules = _layer_modules(package)
    code = f"""
import importlib, json, sys
layer = {str(package.parent)!r}
sys.path[:0] = [layer]
failed = {{}}
for name in {modules!r}:
    try:
        importlib.import_module(name)
    except BaseException as exc:
        failed[name] = f"{{type(exc).__name__}}: {{exc}}"
loaded = sorted(n for n in sys.modules if n == "lambda_isr" or n.startswith("lambda_isr."))
outside = sorted(
    n for n, m in sys.modules.items()
    if getattr(m, "__file__", None) and not m.__file__.startswith((layer, sys.base_prefix))
)
print(json.dumps({{"failed": failed, "loaded": loaded, "outside": outside}}))
"""
    env = {
        "PATH": "/usr/bin:/bin",
        "AWS_DEFAULT_REGION": "us-east-1",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    # -I -S: no PYTHONPATH, no user or system site-packages, no current folder: the layer only.
    run = subprocess.run(
        [python, "-I", "-S", "-c", code], capture_output=True, text=True, env=env, check=False
    )
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout.splitlines()[-1])
    assert report["failed"] == {}
    assert report["outside"] == []
    assert set(MUST_IMPORT) <= set(report["loaded"])
    assert not [name for name in report["loaded"] if _is_dev(name)]


def test_the_layer_carries_the_store_trimmed_botocore_data_for_its_own_botocore(
    package: Path,
) -> None:
    """The trimmed data is only used with the botocore it was written from: the layer's."""
    code = (
        "import botocore, json\n"
        "from lambda_isr.store._models import models_dir\n"
        "print(json.dumps([botocore.__version__, models_dir(botocore.__version__)]))\n"
    )
    out = subprocess.run(
        [sys.executable, "-S", "-c", code],
        env={"PYTHONPATH": str(package.parent)},
        capture_output=True,
        text=True,
        check=True,
    )
    version, folder = json.loads(out.stdout)
    assert folder is not None, f"no trimmed data for the layer's botocore {version}"
    trimmed = Path(folder)
    assert (trimmed / "endpoints.json").is_file()
    models = sorted(p.relative_to(trimmed).parts[0] for p in trimmed.rglob("service-2.json"))
    assert models == ["dynamodb", "s3"]
    size = sum(p.stat().st_size for p in trimmed.rglob("*") if p.is_file())
    assert size < 300_000  # ~90 KB instead of botocore's ~3 MB for these files
