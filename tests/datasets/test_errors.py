"""Tests for the dataset error hierarchy: one base class, and the built-in kinds kept."""

from __future__ import annotations

import pickle

import pytest

from jgnn.datasets import (
    ChecksumError,
    DatasetError,
    DatasetFormatError,
    DatasetNotFoundError,
    PickleFormatError,
    download,
    load,
)


@pytest.mark.parametrize(
    ("cls", "builtin"),
    [
        (DatasetNotFoundError, FileNotFoundError),
        (DatasetFormatError, ValueError),
        (ChecksumError, ValueError),
        (PickleFormatError, pickle.UnpicklingError),
        (PickleFormatError, ValueError),
    ],
)
def test_every_error_is_a_dataset_error_and_keeps_its_builtin_kind(cls, builtin):
    err = cls("message")
    assert isinstance(err, DatasetError) and isinstance(err, builtin)
    assert str(err) == "message"


def test_download_checksum_error_is_a_dataset_error(http_dir, tmp_path):
    url, served = http_dir
    (served / "f").write_bytes(b"abc")
    with pytest.raises(DatasetError, match="SHA-256 mismatch"):
        download(f"{url}/f", tmp_path / "out" / "f", sha256="0" * 64)


def test_missing_dataset_is_caught_as_dataset_error(monkeypatch):
    # What a command-line tool does: one except clause, one line of output.
    monkeypatch.delenv("JGNN_DATA", raising=False)
    for name in ("cora", "ogbn-arxiv"):
        with pytest.raises(DatasetError) as info:
            load(name, download=False)
        assert "Searched, in order:" in str(info.value)
