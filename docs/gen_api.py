"""MkDocs hook: the API reference pages, generated from kerax's public names at build time.

mkdocs.yml lists this file under `hooks:`. On every build it adds one page per public module
(`api/<module>.md`, a mkdocstrings block for each public name) and lists them in the nav
under "API reference", so a public name added to kerax is documented without editing the
docs; tests/test_docs.py builds the site and checks that every public name has an entry
in the built inventory (`objects.inv`).

    python docs/gen_api.py    # print the public modules and how many names each has

A *public module* is `kerax` itself, every module attribute `kerax.<name>` except the
implementation packages in INTERNAL (what they offer is re-exported by a public module),
and the sub-namespaces Keras 3 also has (`kerax.ops.nn`, `kerax.optimizers.schedules`,
...). A module's *public names* are its `__all__` when it has one, else every attribute
not starting with `_` that is not a module; plus the names Keras 3 exports at the same path
that the module has (Keras-compatible aliases left out of an `__all__`).
"""
import ast
import importlib
import importlib.util
import pathlib
import types

# Implementation packages: not part of the API (what they offer is re-exported by a
# public module: kerax.function, kerax.Variable, kerax.utils.Progbar, ...).
INTERNAL = {
    "core": "the state core (Variable, scopes, trace); exported as kerax.Variable, "
            "kerax.StatelessScope, kerax.name_scope, kerax.remat",
    "io": "progress bar and I/O helpers; exported by kerax.utils",
    "registry": "the name registry; exported by kerax.saving and kerax.utils",
    "trainers": "compile/fit/evaluate/predict; used through kerax.Model",
    "transforms": "kerax.function, grad, value_and_grad; exported by kerax",
    "variables": "exported as kerax.Variable",
    "version": "exported as kerax.__version__",
    "demo": "the `python -m kerax demo` job",
}
# Sub-namespaces that Keras 3 exposes too (keras.ops.nn, keras.optimizers.schedules, ...).
SUBMODULES = ["ops.image", "ops.linalg", "ops.nn", "ops.numpy", "optimizers.schedules",
              "preprocessing.image", "preprocessing.sequence", "utils.bounding_boxes"] + [
    f"datasets.{d}" for d in ("boston_housing", "california_housing", "cifar10", "cifar100",
                              "fashion_mnist", "imdb", "mnist", "reuters")] + [
    f"applications.{a}" for a in (
        "convnext", "densenet", "efficientnet", "efficientnet_v2", "imagenet_utils",
        "inception_resnet_v2", "inception_v3", "mobilenet", "mobilenet_v2", "mobilenet_v3",
        "nasnet", "resnet", "resnet50", "resnet_v2", "vgg16", "vgg19", "xception")]
API_SECTION = "API reference"


def public_modules():
    """Names of the public modules, `kerax` first, then sorted."""
    kerax = importlib.import_module("kerax")
    mods = ["kerax"]
    for name in sorted(dir(kerax)):
        obj = getattr(kerax, name)
        if (not name.startswith("_") and isinstance(obj, types.ModuleType)
                and obj.__name__ == f"kerax.{name}" and name not in INTERNAL):
            mods.append(obj.__name__)
    for sub in SUBMODULES:
        parent, _, child = sub.partition(".")
        if f"kerax.{parent}" in mods and isinstance(
                getattr(importlib.import_module(f"kerax.{parent}"), child, None),
                types.ModuleType):
            mods.append(f"kerax.{sub}")
    return sorted(mods, key=lambda m: (m != "kerax", m))


def keras_names(module_name):
    """The names Keras 3 exports at the same path (`kerax.layers` -> `keras.layers`), read
    from Keras' generated `__init__.py` without importing Keras; empty without Keras."""
    spec = importlib.util.find_spec("keras")
    if spec is None or not spec.submodule_search_locations:
        return set()
    init = pathlib.Path(list(spec.submodule_search_locations)[0],
                        *module_name.split(".")[1:], "__init__.py")
    if not init.is_file():
        return set()
    names = set()
    for node in ast.parse(init.read_text()).body:
        if isinstance(node, ast.ImportFrom):
            names.update(alias.asname or alias.name for alias in node.names)
    return names


def public_names(module_name):
    """The public, non-module names of one module, sorted: its `__all__` (or, without one,
    its attributes not starting with `_`), plus the Keras 3 names of the same path that it
    has (aliases such as `kerax.initializers.glorot_uniform`)."""
    mod = importlib.import_module(module_name)
    names = getattr(mod, "__all__", None)
    if names is None:
        names = [n for n in dir(mod) if not n.startswith("_")]
    names = set(names) | {n for n in keras_names(module_name) if hasattr(mod, n)}
    return sorted(n for n in names
                  if not n.startswith("_") and not isinstance(getattr(mod, n), types.ModuleType))


def page(module_name):
    """The Markdown of one module's API page."""
    lines = [f"# `{module_name}`", "",
             f"::: {module_name}",
             "    options:",
             "      members: false",
             "      show_root_heading: false",
             "      show_root_toc_entry: false", ""]
    for name in public_names(module_name):
        lines += [f"::: {module_name}.{name}", ""]
    return "\n".join(lines)


def index(modules):
    """The Markdown of the API reference's front page."""
    lines = ["# API reference", "",
             "One page per public module, generated from the docstrings when the site is",
             "built (`docs/gen_api.py`); every public name of kerax and of its public",
             "submodules has an entry (`tests/test_docs.py` checks it).", "",
             "| module | public names |", "| --- | --- |"]
    for m in modules:
        lines.append(f"| [`{m}`]({m}.md) | {len(public_names(m))} |")
    return "\n".join(lines) + "\n"


def pages():
    """{path under docs/: Markdown} of every generated page."""
    modules = public_modules()
    out = {"api/index.md": index(modules)}
    out.update({f"api/{m}.md": page(m) for m in modules})
    return out


# --- MkDocs hook events -------------------------------------------------------------------

def on_config(config):
    """List the generated pages in the nav, under the "API reference" entry."""
    entries = ["api/index.md"] + [{m: f"api/{m}.md"} for m in public_modules()]
    nav = config.get("nav") or []
    for i, item in enumerate(nav):
        if isinstance(item, dict) and API_SECTION in item:
            nav[i] = {API_SECTION: entries}
            break
    else:
        nav.append({API_SECTION: entries})
    config["nav"] = nav
    return config


def on_files(files, config):
    """Add the generated pages to the site's files."""
    from mkdocs.structure.files import File

    for path, text in pages().items():
        files.append(File.generated(config, path, content=text))
    return files


if __name__ == "__main__":
    for m in public_modules():
        print(f"{m:<30} {len(public_names(m)):>4} public names")
