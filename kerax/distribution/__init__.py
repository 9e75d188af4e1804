"""`kerax.distribution`: Keras 3's distribution API on `jax.sharding`.

Create a distribution, make it active, and build the model under it: every
Variable is created with its layout (already split over the devices),
`kerax.function` splits its inputs along the batch axis, and XLA inserts the
collectives. The same script runs on one device, a multi-GPU host and a TPU
pod slice (call `initialize()` first on each host of a multi-host run).

>>> import kerax
>>> dp = kerax.distribution.DataParallel(devices=kerax.distribution.list_devices()[:1])
>>> with dp.scope():
...     layer = kerax.layers.Dense(2)
...     layer.build((None, 3))
>>> tuple(layer.kernel.value.sharding.spec)
(None, None)
"""
from kerax.distribution.devices import get_device_count, initialize, list_devices
from kerax.distribution.distributions import (DataParallel, Distribution, ModelParallel,
                                              distribute_data_input, distribute_tensor,
                                              distribution, set_distribution)
from kerax.distribution.layouts import DeviceMesh, LayoutMap, TensorLayout

__all__ = ["list_devices", "get_device_count", "initialize", "DeviceMesh", "TensorLayout",
           "LayoutMap", "Distribution", "DataParallel", "ModelParallel", "distribute_tensor",
           "distribute_data_input", "distribution", "set_distribution"]
