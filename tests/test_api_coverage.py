"""API coverage against the installed Keras 3: for each public Keras module,
the public names kerax lacks at the same path.

Run with `-s` to see the per-module table and the overall percentage. Since
issue 15 every Keras module is complete (`keras.applications` included): no
name may be missing but those EXCLUDED_MODULES and EXCLUDED_NAMES list with
their reason.
"""
import importlib
import pkgutil

import pytest

# Whole Keras modules left out, with the reason.
EXCLUDED_MODULES = {
    "keras.wrappers": "scikit-learn wrappers (SKLearnClassifier, ...): need scikit-learn; "
                      "out of scope",
    "keras.legacy": "tf.keras 2 compatibility shims (the legacy rule of issue 10)",
    "keras.optimizers.legacy": "tf.keras 2 optimizer shims (the legacy rule of issue 10)",
    "keras.utils.legacy": "tf.keras 2 serialization shims (the legacy rule of issue 10)",
    "keras.src": "Keras' private implementation, not API",
    "keras.api": "Keras' internal mirror of the public API",
}
# Names that only make sense for TensorFlow or PyTorch, with the reason.
EXCLUDED_NAMES = {
    "keras.layers.TFSMLayer": "loads a TensorFlow SavedModel",
    "keras.layers.TorchModuleWrapper": "wraps a torch.nn.Module",
}
# Every Keras module must be complete (issue 15): no name missing but the
# exclusions above, and overall coverage of at least MIN_COVERAGE.
MIN_COVERAGE = 0.99


def test_every_module_is_complete(measured):
    missing = {mod: miss for mod, (names, miss) in measured.items() if miss}
    assert not missing, f"missing names per Keras module: {missing}"


def test_overall_coverage(measured):
    total = sum(len(n) for n, _ in measured.values())
    missing = sum(len(m) for _, m in measured.values())
    assert (total - missing) / total >= MIN_COVERAGE, (total, missing)


def _excluded(module):
    return any(module == m or module.startswith(m + ".") for m in EXCLUDED_MODULES) or \
        module.startswith("keras._") or "._" in module


def keras_modules(keras):
    """Keras' public modules. Packages are walked by hand, skipping the excluded
    and private ones BEFORE importing them: `pkgutil.walk_packages` imports every
    package to recurse (keras.src's numpy backend among them), which would switch
    Keras' backend under the rest of the suite."""
    mods = []

    def walk(name, package):
        mods.append(name)
        for info in pkgutil.iter_modules(package.__path__):
            child = f"{name}.{info.name}"
            if info.ispkg and not info.name.startswith("_") and info.name != "src" \
                    and not _excluded(child):
                walk(child, importlib.import_module(child))

    walk("keras", keras)
    return sorted(mods)


def public_names(module):
    return {n for n in dir(module) if not n.startswith("_")}


def coverage(keras):
    """{keras module: (names, missing)}."""
    out = {}
    for mod_name in keras_modules(keras):
        try:
            kmod = importlib.import_module(mod_name)
        except ImportError:
            continue
        names = {n for n in public_names(kmod)
                 if f"{mod_name}.{n}" not in EXCLUDED_NAMES
                 and not _excluded(f"{mod_name}.{n}")}
        names -= {"src", "version"} if mod_name == "keras" else set()
        try:
            ours = importlib.import_module("kerax" + mod_name[len("keras"):])
            have = public_names(ours)
        except ImportError:
            have = set()
        out[mod_name] = (names, sorted(names - have))
    return out


@pytest.fixture(scope="module")
def measured(keras):
    table = coverage(keras)
    total = sum(len(n) for n, _ in table.values())
    missing = sum(len(m) for _, m in table.values())
    print("\nkerax API coverage against Keras", keras.__version__)
    for mod, (names, miss) in table.items():
        pct = 100.0 * (len(names) - len(miss)) / max(len(names), 1)
        print(f"  {mod:40s} {len(names) - len(miss):4d}/{len(names):4d}  {pct:5.1f}%"
              + (f"  missing: {', '.join(miss[:12])}{' ...' if len(miss) > 12 else ''}"
                 if miss else ""))
    print(f"  overall: {total - missing}/{total} = {100.0 * (total - missing) / total:.1f}%")
    return table
