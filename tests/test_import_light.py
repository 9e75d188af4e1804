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
