"""Fixtures for the sampler tests: an isolated cache folder and one spawned worker process."""

from __future__ import annotations

import concurrent.futures
import multiprocessing

import pytest


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("JGNN_CACHE", str(tmp_path / "cache"))


@pytest.fixture(scope="module")
def spawned():
    """A one-process pool started with ``spawn`` (a fresh interpreter, nothing inherited).

    Module-scoped: other suites (tests/loader) assert that no child process outlives them.
    """
    ctx = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(max_workers=1, mp_context=ctx) as pool:
        yield pool
