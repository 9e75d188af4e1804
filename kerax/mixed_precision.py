"""Mixed precision (Keras 3's `keras.mixed_precision`): dtype policies and
`LossScaleOptimizer`.

A policy names a variable dtype and a compute dtype ("mixed_bfloat16": float32
variables, bfloat16 computation); see `kerax.dtype_policies`. For float16,
wrap the optimizer in `LossScaleOptimizer` (compile does so automatically
under "mixed_float16").
"""
from kerax.dtype_policies import (DTypePolicy, autocast_dtype, autocast_scope,  # noqa: F401
                                  dtype_policy, global_policy, set_dtype_policy,
                                  set_global_policy)
from kerax.dtype_policies import DTypePolicy as Policy  # noqa: F401  Keras' alias
from kerax.optimizers.loss_scale_optimizer import LossScaleOptimizer  # noqa: F401

__all__ = ["DTypePolicy", "Policy", "set_global_policy", "global_policy", "dtype_policy",
           "set_dtype_policy", "LossScaleOptimizer", "autocast_dtype"]
