"""The botocore session the AWS store's clients share: botocore's own, without boto3, with a
lighter data loader.

The store needs plain botocore clients (``boto3.client`` returns one too). Going through boto3
costs a cold start ~40 ms more: importing ``boto3`` and, for S3, ``s3transfer`` (boto3 adds its
``upload_file`` family to every S3 client; the store never uses it).

:class:`LightLoader` is botocore's :class:`~botocore.loaders.Loader` (same search paths, same
files, ``AWS_DATA_PATH`` honoured) with three changes:

- JSON is parsed into plain dicts, not ``OrderedDict``: the same keys in the same order (a
  ``dict`` keeps insertion order), about twice as fast. ``endpoints.json`` alone is 1.2 MB.
- A service is looked up in its own folder (``list_api_versions``) instead of listing every
  folder of every service (400+) once per model type, the first time a client is created.
- In the layer, the store's trimmed copy of botocore's data (:mod:`._models`) is searched just
  before botocore's own, and counts as botocore's own.

Each is checked against botocore's own loader (``tests/store/test_botocore.py``,
``tests/store/test_models.py``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator, Sequence
from typing import IO, Any, overload

import botocore
import botocore.session
from botocore.exceptions import DataNotFoundError
from botocore.loaders import JSONFileLoader, Loader

from lambda_isr.store._models import models_dir


class PlainJsonFiles(JSONFileLoader):
    """botocore's JSON file loader (``.json``, then ``.json.gz``), parsing into plain dicts."""

    def _load_file(self, full_path: str, open_method: Callable[..., IO[bytes]]) -> Any:
        if not os.path.isfile(full_path):
            return None
        with open_method(full_path, "rb") as fp:
            payload = fp.read().decode("utf-8")
        return json.loads(payload)


class KnownServices(Sequence[str]):
    """The services that have ``type_name`` data, as botocore's sorted list of them: a
    membership test looks in that one service's folder; anything else lists them all."""

    def __init__(self, loader: LightLoader, type_name: str) -> None:
        self._loader = loader
        self._type_name = type_name

    def __contains__(self, service_name: object) -> bool:
        if not isinstance(service_name, str) or service_name in ("", ".", ".."):
            return False
        if "/" in service_name or os.sep in service_name:
            return False
        try:
            return bool(self._loader.list_api_versions(service_name, self._type_name))
        except DataNotFoundError:
            return False

    @overload
    def __getitem__(self, index: int) -> str: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[str]: ...

    def __getitem__(self, index: int | slice) -> str | Sequence[str]:
        return self._all()[index]

    def __iter__(self) -> Iterator[str]:
        return iter(self._all())

    def __len__(self) -> int:
        return len(self._all())

    def _all(self) -> list[str]:
        return self._loader.list_all_services(self._type_name)


class LightLoader(Loader):
    """botocore's data loader, parsing JSON into dicts and finding one service without listing
    them all (see the module docstring)."""

    def __init__(
        self, extra_search_paths: list[str] | None = None, trimmed: str | None = None
    ) -> None:
        super().__init__(extra_search_paths=extra_search_paths, file_loader=PlainJsonFiles())
        self.trimmed = trimmed
        """The store's trimmed copy of botocore's data (:mod:`._models`), searched just before
        botocore's own."""
        if trimmed is not None:
            self.search_paths.insert(self.search_paths.index(self.BUILTIN_DATA_PATH), trimmed)

    def is_builtin_path(self, path: str) -> bool:
        """botocore's data, or the store's trimmed copy of it: botocore gives data of its own
        (``endpoints.json``) precedence over the endpoint rules only when it is not."""
        builtin: bool = super().is_builtin_path(path)
        return builtin or (self.trimmed is not None and path.startswith(self.trimmed + os.sep))

    def list_available_services(self, type_name: str) -> KnownServices:  # type: ignore[override]
        return KnownServices(self, type_name)

    def list_all_services(self, type_name: str) -> list[str]:
        """botocore's full listing (every folder of every search path), sorted."""
        services: list[str] = Loader.list_available_services(self, type_name)
        return services


def light_loader(data_path: str | None, trimmed: str | None = None) -> LightLoader:
    """The loader for a session's ``data_path`` (``AWS_DATA_PATH``): its folders first, as
    ``botocore.loaders.create_loader`` orders them, then ``~/.aws/models``, then the store's
    ``trimmed`` models (:mod:`._models`), then botocore's own data."""
    paths = []
    if data_path:
        paths = [os.path.expanduser(os.path.expandvars(p)) for p in data_path.split(os.pathsep)]
    return LightLoader(extra_search_paths=paths, trimmed=trimmed)


def new_session() -> botocore.session.Session:
    """A botocore session (credentials, region and endpoints from the environment and the
    config files, as boto3's) whose clients load their models with :class:`LightLoader`, from
    the store's trimmed models when the layer build wrote them for this botocore."""
    session = botocore.session.get_session()
    data_path: str | None = session.get_config_variable("data_path")
    trimmed = models_dir(botocore.__version__)
    session.register_component("data_loader", light_loader(data_path, trimmed))
    return session
