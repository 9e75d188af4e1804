"""`import kerax` loads no optional dependency: they are imported where they
are used (h5py when a file is read or written, flax by FlaxLayer, PIL by the
image utilities, tensorboardX by the TensorBoard callback, orbax by the Orbax
callback, matplotlib/OpenCV by kerax.visualization, pydot by plot_model), and
the model zoo, dataset loaders and plotting helpers load on first use."""
import subprocess
import sys

OPTIONAL = ("flax", "h5py", "tensorboardX", "orbax", "PIL", "pydot", "matplotlib", "cv2",
            "keras", "tensorflow", "torch", "pandas", "requests", "grain")
LAZY = ("kerax.applications", "kerax.datasets", "kerax.visualization")


def test_import_kerax_loads_no_optional_package():
    out = subprocess.run([sys.executable, "-X", "importtime", "-c", "import kerax"],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    loaded = {line.rsplit("|", 1)[-1].strip() for line in out.stderr.splitlines()
              if line.startswith("import time:")}
    top = {name.split(".")[0] for name in loaded}
    assert not top & set(OPTIONAL), sorted(top & set(OPTIONAL))
    assert not loaded & set(LAZY), sorted(loaded & set(LAZY))


def test_lazy_subpackages_load_on_first_use():
    code = ("import sys, kerax; assert 'kerax.datasets' not in sys.modules; "
            "x = kerax.datasets.load_digits; from kerax import applications; "
            "assert 'applications' in dir(kerax) and kerax.applications is applications; "
            "print('ok')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr[-2000:]


# Heavy modules kerax uses only for some features: optax (with absl) when an
# optimizer is built, jax.extend (with pallas) when kerax.random samples, the
# jax.scipy submodules when an op needs them, and the standard library's
# download/archive/audio modules in get_file, RemoteMonitor and read_wav.
ON_USE = ("optax", "absl", "jax.extend", "jax._src.pallas.core", "jax.scipy.special",
          "jax.scipy.stats", "jax.scipy.linalg", "urllib.request", "tarfile", "wave")


def test_import_kerax_leaves_heavy_modules_for_first_use():
    code = ("import sys, kerax; print(sorted(m for m in %r if m in sys.modules))"
            % (ON_USE,))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "[]", out.stdout


def test_import_kerax_restores_the_garbage_collector():
    # kerax pauses the cyclic collector while its modules import; the user's
    # setting (on or off) is what remains afterwards.
    code = ("import gc; gc.disable(); import kerax; a = gc.isenabled(); "
            "import importlib; gc.enable(); importlib.reload(kerax); "
            "print(a, gc.isenabled())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["False", "True"], out.stdout


def test_optimizers_load_optax_when_used():
    # Building, applying, serializing an optimizer and wrapping an optax
    # transformation work on a fresh process where optax loads on first use.
    code = """
import sys, numpy as np, kerax
assert "optax" not in sys.modules
opt = kerax.optimizers.Adam(learning_rate=0.5)
v = kerax.Variable(np.array([1.0, 2.0], "float32"))
opt.apply_gradients([(np.array([1.0, -1.0], "float32"), v)])
assert "optax" in sys.modules
import optax
again = kerax.optimizers.deserialize(kerax.optimizers.serialize(opt))
wrapped = kerax.optimizers.get(optax.sgd(0.1))
print(type(again).__name__, type(wrapped).__name__, np.asarray(v).round(4).tolist())
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    # Adam's first step (closed form): w - lr * sign(g), as m / sqrt(v) = sign(g).
    assert out.stdout.split() == ["Adam", "OptaxOptimizer", "[0.5,", "2.5]"], out.stdout
