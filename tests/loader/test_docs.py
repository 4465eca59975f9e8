"""The docstring examples of jgnn.loader run and print what they claim."""

import doctest
import importlib

import pytest


@pytest.mark.parametrize(
    "module", ["_budget", "_batch", "_trim", "_loader", "_inference", "_report", "_pipeline"]
)
def test_docstring_examples(module):
    mod = importlib.import_module(f"jgnn.loader.{module}")
    result = doctest.testmod(mod, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0
