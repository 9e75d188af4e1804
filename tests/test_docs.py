"""The documentation site: `mkdocs build --strict` passes (broken links, anchors, images and
unresolvable references fail it), and the API reference it builds documents every public
name of kerax and of its public submodules (docs/gen_api.py generates the pages)."""
import importlib.util
import os
import pathlib
import subprocess
import sys
import types

import pytest

import kerax

ROOT = pathlib.Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"


def _load(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


gen_api = _load("docs_gen_api", DOCS / "gen_api.py")
griffe_doctest = _load("docs_griffe_doctest", DOCS / "griffe_doctest.py")


def test_public_modules_cover_keras_namespaces_kerax_has():
    """Every Keras 3 public namespace that kerax also has is documented (Keras' package
    folders are listed from disk, without importing Keras)."""
    spec = importlib.util.find_spec("keras")
    if spec is None:
        pytest.skip("Keras 3 is not installed")
    keras_root = pathlib.Path(spec.origin).parent
    documented = set(gen_api.public_modules())
    for init in keras_root.rglob("__init__.py"):
        parts = init.parent.relative_to(keras_root).parts
        if not parts or parts[0].startswith("_") or parts[0] in ("src", "api"):
            continue
        name = "kerax." + ".".join(parts)
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue  # a Keras namespace kerax does not have (applications, ...)
        assert isinstance(module, types.ModuleType)
        assert name in documented, f"{name} mirrors keras.{'.'.join(parts)} but has no page"


def test_public_names():
    callbacks = gen_api.public_names("kerax.callbacks")
    assert set(kerax.callbacks.__all__) <= set(callbacks)
    assert "backup_and_restore" not in callbacks  # an implementation module, not a name
    initializers = gen_api.public_names("kerax.initializers")
    assert set(kerax.initializers.__all__) <= set(initializers)
    assert "glorot_uniform" in initializers  # a Keras 3 alias outside kerax's __all__
    assert "Variable" not in initializers    # imported for the implementation only
    layers = gen_api.public_names("kerax.layers")  # no __all__: its public attributes
    assert "Dense" in layers and "Layer" in layers and "core" not in layers
    assert {"matmul", "custom_gradient", "stop_gradient"} <= set(gen_api.public_names("kerax.ops"))
    top = gen_api.public_names("kerax")
    assert {"Sequential", "Model", "Input", "Variable", "function", "grad"} <= set(top)
    modules = gen_api.public_modules()
    assert modules[0] == "kerax"
    assert "kerax.core" not in modules and "kerax.trainers" not in modules
    assert {"kerax.layers", "kerax.ops.nn", "kerax.optimizers.schedules"} <= set(modules)


def test_doctest_examples_are_fenced():
    text = ("Adds one.\n\n>>> f(1)\n2\n>>> [round(x, 1) for x in (0.25, 0.5)]\n[0.2, 0.5]\n\n"
            "More text.\n\n    >>> indented()\n    [1]\n```python\n>>> kept\n```")
    assert griffe_doctest.fence_doctests(text) == (
        "Adds one.\n\n```python\n>>> f(1)\n2\n>>> [round(x, 1) for x in (0.25, 0.5)]\n"
        "[0.2, 0.5]\n```\n\nMore text.\n\n    ```python\n    >>> indented()\n    [1]\n"
        "    ```\n```python\n>>> kept\n```")


def _inventory_names(path):
    from mkdocstrings import Inventory

    with open(path, "rb") as f:
        return set(Inventory.parse_sphinx(f))


@pytest.fixture(scope="module")
def built_site(tmp_path_factory):
    pytest.importorskip("mkdocs")
    pytest.importorskip("mkdocstrings")
    site = tmp_path_factory.mktemp("site")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    proc = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet",
                           "--config-file", str(ROOT / "mkdocs.yml"), "--site-dir", str(site)],
                          cwd=ROOT, capture_output=True, text=True, timeout=900, env=env)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-6000:]
    return site


def test_docs_build_strict(built_site):
    for page in ("index.html", "getting-started/index.html", "how-kerax-works/index.html",
                 "guides/quickstart/index.html", "api/kerax.layers/index.html"):
        assert (built_site / page).is_file(), page
    performance = (built_site / "performance" / "index.html").read_text()
    assert "Benchmark results" in performance  # bench/RESULTS.md is included


def test_api_reference_documents_every_public_name(built_site):
    documented = _inventory_names(built_site / "objects.inv")
    missing = [f"{m}.{n}" for m in gen_api.public_modules() for n in gen_api.public_names(m)
               if f"{m}.{n}" not in documented]
    assert not missing, f"{len(missing)} public names have no API entry: {missing[:20]}"
    for module in gen_api.public_modules():
        assert (built_site / "api" / module / "index.html").is_file(), module
