"""Tests for the cache directory and the atomic, verified download (local server only)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from jgnn.datasets import ChecksumError, cache_dir, download, sha256_file

_BODY = b"planetoid bytes " * 10_000  # 160 kB: several reads


def _listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_cache_dir_env_and_default(monkeypatch, tmp_path):
    monkeypatch.setenv("JGNN_CACHE", str(tmp_path / "c"))
    assert cache_dir() == tmp_path / "c"
    monkeypatch.delenv("JGNN_CACHE")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_dir() == tmp_path / "home" / ".cache" / "jgnn"


def test_sha256_file_matches_hashlib(tmp_path):
    path = tmp_path / "f"
    path.write_bytes(_BODY)
    assert sha256_file(path) == hashlib.sha256(_BODY).hexdigest()


def test_good_file_is_verified_and_moved_into_place(http_dir, tmp_path):
    url, served = http_dir
    (served / "ind.x").write_bytes(_BODY)
    dest = tmp_path / "out" / "sub" / "ind.x"
    digest = hashlib.sha256(_BODY).hexdigest()
    assert download(f"{url}/ind.x", dest, digest.upper()) == digest
    assert dest.read_bytes() == _BODY
    assert _listing(dest.parent) == ["ind.x"]  # no temporary file left


def test_unpinned_download_returns_digest(http_dir, tmp_path):
    url, served = http_dir
    (served / "a").write_bytes(b"abc")
    assert download(f"{url}/a", tmp_path / "a") == hashlib.sha256(b"abc").hexdigest()


def test_wrong_digest_raises_and_leaves_nothing(http_dir, tmp_path):
    url, served = http_dir
    (served / "ind.x").write_bytes(_BODY)
    dest = tmp_path / "out" / "ind.x"
    wrong = "0" * 64
    with pytest.raises(ChecksumError) as info:
        download(f"{url}/ind.x", dest, wrong)
    message = str(info.value)
    assert wrong in message and hashlib.sha256(_BODY).hexdigest() in message
    assert _listing(dest.parent) == []


def test_failure_keeps_previous_file(http_dir, tmp_path):
    url, served = http_dir
    (served / "ind.x").write_bytes(_BODY)
    dest = tmp_path / "ind.x"
    dest.write_bytes(b"old")
    with pytest.raises(ChecksumError):
        download(f"{url}/ind.x", dest, "1" * 64)
    assert dest.read_bytes() == b"old"
    assert _listing(tmp_path) == ["ind.x", "served"]  # no temporary file left


def test_http_404_is_a_clear_oserror(http_dir, tmp_path):
    url, _ = http_dir
    dest = tmp_path / "out" / "missing"
    with pytest.raises(OSError, match=r"HTTP 404") as info:
        download(f"{url}/missing", dest)
    assert f"{url}/missing" in str(info.value)
    assert not isinstance(info.value, ChecksumError)
    assert _listing(dest.parent) == []


def test_truncated_body_is_rejected(http_dir, tmp_path):
    url, _ = http_dir
    dest = tmp_path / "out" / "t"
    with pytest.raises(OSError, match=f"{url}/truncated/1000"):
        download(f"{url}/truncated/1000", dest)
    assert _listing(dest.parent) == []


def test_refused_connection_is_a_clear_oserror(tmp_path):
    dest = tmp_path / "out" / "x"
    with pytest.raises(OSError, match=r"http://127\.0\.0\.1:9/x"):
        download("http://127.0.0.1:9/x", dest, timeout=5)
    assert _listing(dest.parent) == []


def test_verify_callback_sees_complete_file_and_can_reject(http_dir, tmp_path):
    url, served = http_dir
    (served / "f").write_bytes(_BODY)
    dest = tmp_path / "out" / "f"
    seen = []

    def reject(path: Path) -> None:
        seen.append(path.read_bytes())
        raise ValueError("not a planetoid file")

    with pytest.raises(ValueError, match="not a planetoid file"):
        download(f"{url}/f", dest, verify=reject)
    assert seen == [_BODY]
    assert _listing(dest.parent) == []
