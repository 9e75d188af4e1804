"""The core's public functions carry runnable examples; they run here."""
import doctest
import importlib
import inspect
import pathlib

import pytest

import kerax.core

CORE = sorted(f"kerax.core.{p.stem}" for p in pathlib.Path(kerax.core.__file__).parent.glob("*.py")
              if p.stem != "__init__")


@pytest.mark.parametrize("name", CORE)
def test_core_examples_run(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0


@pytest.mark.parametrize("name", CORE)
def test_core_public_functions_have_examples(name):
    module = importlib.import_module(name)
    public = getattr(module, "__all__", None)
    if public is None or name == "kerax.core.config":
        pytest.skip("settings module: getters and setters")
    missing = [n for n in public if inspect.isfunction(getattr(module, n)) and ">>>" not in (
        inspect.getdoc(getattr(module, n)) or "")]
    assert not missing, f"{name}: public functions without a runnable example: {missing}"
