"""Refuse arrays that cannot fit before XLA is asked for them.

Asking XLA for an array larger than the device's memory can abort the
whole process (a failed allocation turned into a check failure, SIGABRT)
instead of raising. Every Variable's initial value and every built-in
initializer calls `check_allocation` first, so `Dense(10**12)` or a config
declaring such a size raises a catchable `AllocationTooLargeError` (both a
`MemoryError` and a `ValueError`) naming the variable, its shape and size.

The limit is the memory of the default backend's local devices together
(`bytes_limit` of each accelerator; on CPU, the machine's physical memory):
an array larger than that can never be created, sharded or not.
"""
import functools
import math
import os

import jax
import jax.numpy as jnp

__all__ = ["AllocationTooLargeError", "check_allocation", "device_memory_bytes"]


class AllocationTooLargeError(MemoryError, ValueError):
    """An array larger than the memory of the devices that would hold it."""


def readable_size(nbytes):
    """`2147483648` -> `'2.00 GiB'`."""
    size = float(nbytes)
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"):
        if size < 1024 or unit == "EiB":
            return f"{int(size)} bytes" if unit == "bytes" else f"{size:.2f} {unit}"
        size /= 1024
    return f"{nbytes} bytes"  # pragma: no cover


@functools.lru_cache(maxsize=None)
def _capacity():
    """(bytes, description) of the default backend's local devices, or
    (None, '') when it cannot be told."""
    devices = jax.local_devices()
    if devices[0].platform == "cpu":
        try:
            total = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (ValueError, OSError, AttributeError):
            return None, ""
        return (total, "this machine's memory (CPU)") if total > 0 else (None, "")
    limits = []
    for d in devices:
        try:
            stats = d.memory_stats() or {}
        except Exception:  # noqa: BLE001 - a backend without memory statistics
            stats = {}
        if "bytes_limit" not in stats:
            return None, ""
        limits.append(int(stats["bytes_limit"]))
    kind = devices[0].device_kind
    return sum(limits), f"the {len(limits)} local {kind} device(s)"


def device_memory_bytes():
    """The memory an array may take at most, in bytes (None if unknown).

    >>> device_memory_bytes() > 0
    True
    """
    return _capacity()[0]


def check_allocation(shape, dtype, what):
    """Raise `AllocationTooLargeError` if an array of `shape` and `dtype`
    cannot fit in the devices' memory; `what` names it in the message
    (e.g. "Variable 'dense/kernel'").

    >>> check_allocation((4, 10**12), "float32", "Variable 'dense/kernel'")
    Traceback (most recent call last):
    ...
    kerax.core.memory.AllocationTooLargeError: Variable 'dense/kernel': shape (4, 1000000000000) of float32 needs 14.55 TiB, ...
    >>> check_allocation((784, 128), "float32", "fine")  # small sizes pass
    """
    n = math.prod(int(d) for d in shape)
    dtype = jnp.dtype(dtype)
    nbytes = n * dtype.itemsize
    if nbytes < (1 << 30):  # never worth asking the backend below 1 GiB
        return
    limit, where = _capacity()
    if limit is not None and nbytes > limit:
        raise AllocationTooLargeError(
            f"{what}: shape {tuple(int(d) for d in shape)} of {dtype.name} needs "
            f"{readable_size(nbytes)}, more than the {readable_size(limit)} of {where}. "
            "Check the sizes given to the layer or in the model config (units, "
            "input_dim, filters, kernel_size, ...).")
