"""The docstring examples of jgnn.history run and print what they claim."""

import doctest
import importlib

import pytest


@pytest.mark.parametrize("module", ["_history", "_batches", "_transfer"])
def test_docstring_examples(module, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    mod = importlib.import_module(f"jgnn.history.{module}")
    result = doctest.testmod(mod, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0
