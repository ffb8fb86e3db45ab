"""File store specifics: atomic content-addressed writes, containment, foreign files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from lambda_isr.errors import ConfigError, InvalidKeyError
from lambda_isr.store.files import FileHtmlStore


def test_unchanged_body_keeps_the_same_file(tmp_path: Path) -> None:
    store = FileHtmlStore(tmp_path)
    stored = store.put("k", b"body")
    path = store.path_for(stored.key)
    before = os.stat(path)
    FileHtmlStore(tmp_path).put("k", b"body")
    after = os.stat(path)
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temp files left


def test_symlink_escape_rejected(tmp_path: Path) -> None:
    root, outside = tmp_path / "root", tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.html").write_bytes(b"secret")
    store = FileHtmlStore(root)
    (root / "isr").mkdir()
    (root / "isr" / "link").symlink_to(outside)
    with pytest.raises(InvalidKeyError):
        store.open("isr/link/secret.html")


def test_file_without_header_is_a_plain_body(tmp_path: Path) -> None:
    store = FileHtmlStore(tmp_path)
    (tmp_path / "isr").mkdir()
    (tmp_path / "isr" / "plain.html").write_bytes(b"<p>plain</p>")
    stream = store.open("isr/plain.html")
    assert stream is not None
    assert (stream.meta.status, stream.meta.size) == (200, 12)
    assert stream.read_all() == b"<p>plain</p>"


def test_corrupt_header_is_a_miss_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = FileHtmlStore(tmp_path)
    (tmp_path / "isr").mkdir()
    (tmp_path / "isr" / "bad.html").write_bytes(b"lambda-isr/1 {not json\nbody")
    assert store.open("isr/bad.html") is None
    assert [r.name for r in caplog.records] == ["lambda_isr.store"]


def test_directory_key_is_a_miss(tmp_path: Path) -> None:
    store = FileHtmlStore(tmp_path)
    (tmp_path / "isr" / "dir").mkdir(parents=True)
    assert store.open("isr/dir") is None


def test_bad_prefix(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="prefix"):
        FileHtmlStore(tmp_path, prefix="../up")
