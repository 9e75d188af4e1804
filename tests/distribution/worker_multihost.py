"""One process of the two-process loopback run of test_multihost.py.

    KERAS_DISTRIBUTION_JOB_ADDRESSES=127.0.0.1:PORT KERAS_DISTRIBUTION_NUM_PROCESSES=2
    KERAS_DISTRIBUTION_PROCESS_ID=I XLA_FLAGS=--xla_force_host_platform_device_count=2
    python worker_multihost.py WORKDIR

Joins the run with `kerax.distribution.initialize()` (Keras' environment
variables), then:

1. data parallel over the 4 global devices: an unseeded MLP (the processes
   agree on the seed in `initialize`) trained 3 steps by a custom loop under
   `kerax.function`, each process feeding its own half of every global batch;
2. model parallel with the kernel split over a mesh axis that spans the two
   processes: a forward pass, and `save_weights` (full arrays gathered from
   both hosts) written by each process to its own file.

Exit code 3 (with the reason on stderr): this platform has no CPU collectives.
"""
import json
import os
import sys

WORKDIR = sys.argv[1]
PID = int(os.environ["KERAS_DISTRIBUTION_PROCESS_ID"])

import jax  # noqa: E402

try:
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
except Exception as e:  # noqa: BLE001
    print(f"NO_CPU_COLLECTIVES: {e}", file=sys.stderr)
    sys.exit(3)

import numpy as np  # noqa: E402
from jax.experimental import multihost_utils  # noqa: E402

import kerax  # noqa: E402
from kerax import distribution as kd  # noqa: E402

try:
    kd.initialize()
except Exception as e:  # noqa: BLE001
    if "gloo" in str(e).lower() or "collectives" in str(e).lower():
        print(f"NO_CPU_COLLECTIVES: {e}", file=sys.stderr)
        sys.exit(3)
    raise

out = {"process_count": jax.process_count(), "devices": kd.get_device_count(),
       "local_devices": jax.local_device_count()}

# ---- 1. data parallel ------------------------------------------------------------------
rs = np.random.RandomState(0)
batches = [(rs.randn(8, 5).astype("float32"), rs.randn(8, 3).astype("float32"))
           for _ in range(3)]
dp = kd.DataParallel()
with dp.scope():
    model = kerax.Sequential([kerax.Input((5,)), kerax.layers.Dense(8, activation="relu"),
                              kerax.layers.Dense(3)])
    if PID == 0:
        np.savez(os.path.join(WORKDIR, "init.npz"), *[v.numpy() for v in model.variables])
    opt = kerax.optimizers.SGD(learning_rate=0.1, momentum=0.9)

    @kerax.function
    def train_step(x, y):
        def loss_fn():
            return kerax.ops.mean((model(x) - y) ** 2)
        loss, grads = kerax.value_and_grad(loss_fn, model.trainable_variables)()
        opt.apply_gradients(zip(grads, model.trainable_variables))
        return loss

    # each process feeds the rows its devices hold: process p, half p
    half = slice(4 * PID, 4 * PID + 4)
    out["losses"] = [float(train_step(x[half], y[half])) for x, y in batches]
    out["weights"] = [v.numpy().tolist() for v in model.variables]

# ---- 2. model parallel across the hosts --------------------------------------------------
devices = np.array(kd.list_devices()).reshape(2, 2).T  # "model" axis spans the processes
mesh = kd.DeviceMesh((2, 2), ["batch", "model"], devices=devices)
layout_map = kd.LayoutMap(mesh)
layout_map[".*wide.*kernel"] = (None, "model")
with kd.ModelParallel(layout_map=layout_map).scope():
    kerax.utils.set_random_seed(5)
    mp_model = kerax.Sequential([kerax.Input((5,)), kerax.layers.Dense(8, name="wide"),
                                 kerax.layers.Dense(3)])
    kernel = mp_model.layers[0].kernel
    out["kernel_fully_addressable"] = bool(kernel.value.is_fully_addressable)
    out["kernel_spec"] = [a for a in kernel.value.sharding.spec]
    x = batches[0][0]
    forward = kerax.function(lambda x: mp_model(x))(x)  # every process feeds the full batch
    out["forward"] = np.asarray(multihost_utils.process_allgather(forward, tiled=True)).tolist()
    mp_model.save_weights(os.path.join(WORKDIR, f"mp{PID}.weights.h5"))

with open(os.path.join(WORKDIR, f"result{PID}.json"), "w") as f:
    json.dump(out, f)
