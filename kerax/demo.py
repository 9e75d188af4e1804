"""The main job: report the runtime (training lands with the training issue)."""
import jax

import kerax


def run(epochs=10, batch_size=32, output="kerax_demo.keras"):
    print(f"kerax {kerax.__version__} on JAX {jax.__version__}; devices: {jax.devices()}")
    return 0
