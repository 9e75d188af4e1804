"""API coverage against the installed Keras 3: for each public Keras module,
the public names kerax lacks at the same path.

Run with `-s` to see the per-module table and the overall percentage. The
modules of issue 10 (COMPLETE: the top level, keras.utils, keras.tree,
keras.config, keras.dtype_policies, keras.mixed_precision, keras.models,
keras.ops.image, ...) must have none missing, apart from the names LATER
assigns to later issues; for the
others the test asserts only that the number of names kerax has does not drop
below the figure recorded in FLOOR (raise it when you add names).
"""
import importlib
import pkgutil

import pytest

# Whole Keras modules left out, with the reason.
EXCLUDED_MODULES = {
    "keras.applications": "pretrained model zoo: needs weight downloads; out of scope (issue 10)",
    "keras.wrappers": "scikit-learn wrappers; out of scope (issue 10)",
    "keras.legacy": "tf.keras 2 compatibility shims (issue 10)",
    "keras.optimizers.legacy": "tf.keras 2 optimizer shims (the legacy rule of issue 10)",
    "keras.utils.legacy": "tf.keras 2 serialization shims (the legacy rule of issue 10)",
    "keras.src": "Keras' private implementation, not API",
    "keras.api": "Keras' internal mirror of the public API",
}
# Names that only make sense for TensorFlow or PyTorch, with the reason.
EXCLUDED_NAMES = {
    "keras.layers.TFSMLayer": "loads a TensorFlow SavedModel",
    "keras.layers.TorchModuleWrapper": "wraps a torch.nn.Module",
    "keras.export.ExportArchive": "writes a TensorFlow SavedModel (needs TensorFlow); "
                                  "kerax exports with jax.export (`model.export`)",
}
# Quantized dtype policies come with quantization (the catalogue issue).
QUANTIZED = {"AWQDTypePolicy", "GPTQDTypePolicy", "Int4DTypePolicy", "QuantizedDTypePolicy",
             "QuantizedFloat8DTypePolicy"}
# Names the issue on real programs leaves to later issues: they count in the
# overall percentage but not in the completeness check of COMPLETE's modules.
LATER = {
    "keras.distillation": "issue 15 (catalogue: distillation)",
    "keras.visualization": "issue 15 (catalogue: bounding boxes and visualization)",
    "keras.quantizers": "issue 15 (catalogue: quantization)",
    "keras.Quantizer": "issue 15 (catalogue: quantization)",
    "keras.utils.bounding_boxes": "issue 15 (catalogue: bounding boxes)",
}
COMPLETE = ["keras", "keras.utils", "keras.tree", "keras.config", "keras.dtype_policies",
            "keras.mixed_precision",
            "keras.models", "keras.ops.image", "keras.preprocessing", "keras.preprocessing.image",
            "keras.preprocessing.sequence", "keras.activations", "keras.distribution"]

# Names kerax has, per Keras module, as measured when this test was written;
# coverage may only go up.
FLOOR = {
    "keras": 45,
    "keras.activations": 35,
    "keras.backend": 14,
    "keras.callbacks": 13,
    "keras.config": 25,
    "keras.constraints": 12,
    "keras.datasets": 0,
    "keras.datasets.boston_housing": 0,
    "keras.datasets.california_housing": 0,
    "keras.datasets.cifar10": 0,
    "keras.datasets.cifar100": 0,
    "keras.datasets.fashion_mnist": 0,
    "keras.datasets.imdb": 0,
    "keras.datasets.mnist": 0,
    "keras.datasets.reuters": 0,
    "keras.distillation": 0,
    "keras.distribution": 11,
    "keras.dtype_policies": 6,
    "keras.export": 0,
    "keras.initializers": 36,
    "keras.layers": 130,
    "keras.losses": 38,
    "keras.metrics": 72,
    "keras.mixed_precision": 7,
    "keras.models": 6,
    "keras.ops": 335,
    "keras.ops.image": 16,
    "keras.ops.linalg": 16,
    "keras.ops.nn": 52,
    "keras.ops.numpy": 220,
    "keras.optimizers": 16,
    "keras.optimizers.schedules": 9,
    "keras.preprocessing": 5,
    "keras.preprocessing.image": 5,
    "keras.preprocessing.sequence": 1,
    "keras.quantizers": 0,
    "keras.random": 11,
    "keras.regularizers": 12,
    "keras.saving": 12,
    "keras.tree": 12,
    "keras.utils": 38,
    "keras.utils.bounding_boxes": 0,
    "keras.visualization": 0,
}


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
                 and not _excluded(f"{mod_name}.{n}")
                 and not (mod_name == "keras.dtype_policies" and n in QUANTIZED)}
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


@pytest.mark.parametrize("module", COMPLETE)
def test_task_modules_are_complete(measured, module):
    missing = [n for n in measured[module][1] if f"{module}.{n}" not in LATER]
    assert missing == [], f"{module} lacks {missing}"


def test_coverage_does_not_drop(measured):
    have = {mod: len(names) - len(miss) for mod, (names, miss) in measured.items()}
    dropped = {mod: (have.get(mod, 0), floor) for mod, floor in FLOOR.items()
               if have.get(mod, 0) < floor}
    assert not dropped, f"coverage dropped, {{module: (names now, floor)}}: {dropped}"
