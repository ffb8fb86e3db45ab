"""Trimmed botocore data for the store's two clients: a cold start parses ~90 KB of JSON
instead of ~3 MB.

botocore ships each service's whole model: DynamoDB's is 0.5 MB and S3's 1.3 MB of JSON, most of
it documentation, and a client parses its model when it is created; the first client of a
session also parses ``endpoints.json`` (1.2 MB, every service in every partition). The store
calls 7 DynamoDB and 4 S3 operations (:data:`OPERATIONS`). :func:`write_models`, run by the
layer build on the botocore it ships, writes under ``lambda_isr/store/_models/botocore-<version>/``:

- both models with only those operations, every shape they reach, every exception shape (so
  any error parses as with the full model) and no documentation;
- ``endpoints.json`` with every partition, region and default, and only the services of
  :data:`ENDPOINT_SERVICES`.

The store's loader (:mod:`._botocore`) searches that folder just before botocore's own data
(and counts it as botocore's own: it is), and only when it was written for the botocore that
runs (:func:`models_dir`). Without it (the wheel, a virtualenv, another botocore) the clients
load botocore's full data. A client built from the trimmed data sends the same bytes and
parses the same answers for every store operation (``tests/store/test_models.py``).
"""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

OPERATIONS: dict[str, tuple[str, ...]] = {
    "dynamodb": (
        "BatchWriteItem",
        "DeleteItem",
        "GetItem",
        "PutItem",
        "Query",
        "TransactWriteItems",
        "UpdateItem",
    ),
    "s3": ("CopyObject", "GetObject", "HeadObject", "PutObject"),
}
"""Every operation the store's clients call (a test checks the store's sources against it)."""
ENDPOINT_SERVICES = ("dynamodb", "s3", "signin", "sso", "sso-oidc", "sts")
"""The services whose entries the trimmed ``endpoints.json`` keeps: the store's two and those
botocore's credential and token providers create clients for on the same session (assumed
roles, SSO, ``aws login``). Every partition, region and default is kept."""

MODELS = Path(__file__).with_name("_models")
_DOCS = ("documentation", "documentationUrl")
_VERSION_RE = re.compile(r"""^__version__\s*=\s*['"]([0-9A-Za-z.+-]+)['"]""", re.MULTILINE)


def models_dir(botocore_version: str, root: Path | None = None) -> str | None:
    """The trimmed models written for this botocore version (under ``root``, :data:`MODELS`
    by default), if the build wrote them."""
    folder = (root if root is not None else MODELS) / f"botocore-{botocore_version}"
    return str(folder) if folder.is_dir() else None


def trim(model: Mapping[str, Any], operations: Iterable[str]) -> dict[str, Any]:
    """``model`` with only ``operations``, the shapes they reach, every exception shape, and
    no documentation. Raises ``KeyError`` for an operation the model does not have."""
    shapes: Mapping[str, Any] = model["shapes"]
    kept: set[str] = set()

    def reach(name: str) -> None:
        if name in kept:
            return
        kept.add(name)
        shape = shapes[name]
        for ref in _refs(shape):
            reach(ref["shape"])

    trimmed_ops: dict[str, Any] = {}
    for name in sorted(operations):
        operation = model["operations"][name]
        for part in ("input", "output"):
            if part in operation:
                reach(operation[part]["shape"])
        for error in operation.get("errors", ()):
            reach(error["shape"])
        trimmed_ops[name] = _undocumented(operation)
    for name, shape in shapes.items():
        if shape.get("exception"):
            reach(name)
    out = {k: v for k, v in model.items() if k not in ("operations", "shapes", *_DOCS)}
    out["operations"] = trimmed_ops
    out["shapes"] = {name: _trim_shape(shapes[name]) for name in shapes if name in kept}
    return out


def _refs(shape: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The shape references inside one shape: structure members, list member, map key/value."""
    refs = list(shape.get("members", {}).values())
    refs += [shape[part] for part in ("member", "key", "value") if part in shape]
    return refs


def _undocumented(definition: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in definition.items() if k not in _DOCS}


def _trim_shape(shape: Mapping[str, Any]) -> dict[str, Any]:
    out = _undocumented(shape)
    if "members" in out:  # member names are data: only their definitions lose documentation
        out["members"] = {name: _undocumented(ref) for name, ref in out["members"].items()}
    for part in ("member", "key", "value"):
        if part in out:
            out[part] = _undocumented(out[part])
    return out


def trim_endpoints(endpoints: Mapping[str, Any], services: Iterable[str]) -> dict[str, Any]:
    """botocore's ``endpoints.json`` with only ``services`` in each partition."""
    keep = set(services)
    partitions = [
        {**partition, "services": {k: v for k, v in partition["services"].items() if k in keep}}
        for partition in endpoints["partitions"]
    ]
    return {**endpoints, "partitions": partitions}


def latest_model(data: Path, service: str) -> tuple[str, dict[str, Any]]:
    """``(api_version, model)``: the newest ``service-2`` of ``service`` under botocore's
    ``data`` folder (``.json`` or ``.json.gz``, as botocore reads them)."""
    versions = sorted(
        v.name
        for v in (data / service).iterdir()
        if any((v / f"service-2{ext}").is_file() for ext in (".json", ".json.gz"))
    )
    if not versions:
        raise FileNotFoundError(f"no service-2 model of {service} under {data}")
    return versions[-1], read_json(data / service / versions[-1] / "service-2")


def read_json(stem: Path) -> dict[str, Any]:
    """``<stem>.json``, else ``<stem>.json.gz``, as botocore reads its data."""
    plain, packed = stem.with_name(f"{stem.name}.json"), stem.with_name(f"{stem.name}.json.gz")
    raw = plain.read_bytes() if plain.is_file() else gzip.decompress(packed.read_bytes())
    data: dict[str, Any] = json.loads(raw)
    return data


def botocore_version(python_dir: Path) -> str:
    """The version of the botocore installed in ``python_dir`` (read, not imported)."""
    source = (python_dir / "botocore" / "__init__.py").read_text(encoding="utf-8")
    found = _VERSION_RE.search(source)
    if found is None:
        raise ValueError(f"no __version__ in {python_dir / 'botocore' / '__init__.py'}")
    return found.group(1)


def write_models(python_dir: Path, package: Path | None = None) -> Path:
    """Write the trimmed models of the botocore installed in ``python_dir`` (a layer's
    ``python`` folder) into ``package/store/_models/botocore-<version>/`` (``package``: the
    layer's ``lambda_isr`` folder by default); returns that folder."""
    version = botocore_version(python_dir)
    package = package if package is not None else python_dir / "lambda_isr"
    out = package / "store" / "_models" / f"botocore-{version}"
    data = python_dir / "botocore" / "data"
    for service, operations in OPERATIONS.items():
        api_version, model = latest_model(data, service)
        _write(out / service / api_version / "service-2.json", trim(model, operations))
    endpoints = read_json(data / "endpoints")
    _write(out / "endpoints.json", trim_endpoints(endpoints, ENDPOINT_SERVICES))
    return out


def _write(path: Path, data: Mapping[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, separators=(",", ":")))
