"""The runnable examples in the module docstrings stay true."""

import doctest
import importlib

import pytest

MODULES = ["mask_utils", "gated_conv", "partial_conv", "dilated_res", "resample", "contextual_attention",
           "shift", "patchgan"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(f"inpaint_core.layers.{name}")
    result = doctest.testmod(module)
    assert result.attempted > 0 and result.failed == 0
