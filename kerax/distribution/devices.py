"""Devices and processes: `list_devices`, `get_device_count`, `initialize`.

Device names follow Keras: `"<platform>:<id>"` (`"cpu:0"`, `"gpu:3"`,
`"tpu:7"`), global over every process of a multi-host run.
"""
import os
import random as _pyrandom
import zlib

import jax
import numpy as np
from jax.experimental import multihost_utils

from kerax import random as _random

__all__ = ["list_devices", "get_device_count", "initialize", "to_jax_device"]

ENV_JOB_ADDRESSES = "KERAS_DISTRIBUTION_JOB_ADDRESSES"
ENV_NUM_PROCESSES = "KERAS_DISTRIBUTION_NUM_PROCESSES"
ENV_PROCESS_ID = "KERAS_DISTRIBUTION_PROCESS_ID"


def _platform(device_type):
    if device_type is None:
        return None
    if not isinstance(device_type, str):
        raise ValueError(
            f"`device_type` must be a string ('cpu', 'gpu' or 'tpu'), got {device_type!r}.")
    return device_type.lower()


def list_devices(device_type=None):
    """All devices (of every process) of one type, as `"<type>:<id>"` strings.

    `device_type`: `"cpu"`, `"gpu"` or `"tpu"`; None gives the default
    backend's devices (GPUs or TPUs when present, else CPUs).

    >>> list_devices("cpu")[0]
    'cpu:0'
    """
    return [f"{d.platform}:{d.id}" for d in jax.devices(_platform(device_type))]


def get_device_count(device_type=None):
    """The number of devices of one type, over all processes (see `list_devices`).

    >>> get_device_count("cpu") >= 1
    True
    """
    return jax.device_count(_platform(device_type))


def to_jax_device(device):
    """A `jax.Device` from a Keras device name (`"cpu:1"`, `"gpu"`) or a device.

    >>> to_jax_device("cpu:0") == jax.devices("cpu")[0]
    True
    """
    if isinstance(device, jax.Device):
        return device
    name = str(device)
    kind, _, index = name.partition(":")
    kind = kind.lower()
    try:
        candidates = jax.devices(kind)
    except RuntimeError as e:
        raise ValueError(f"Device {name!r}: no {kind!r} devices are available ({e}).") from None
    try:
        wanted = int(index or 0)
    except ValueError:
        raise ValueError(
            f"Device {name!r}: expected '<type>:<id>' such as 'cpu:0'.") from None
    for d in candidates:
        if d.id == wanted:
            return d
    raise ValueError(
        f"Device {name!r} not found; the {kind} devices are "
        f"{[f'{d.platform}:{d.id}' for d in candidates]}.")


def initialize(job_addresses=None, num_processes=None, process_id=None):
    """Join a multi-process (multi-host) run: `jax.distributed.initialize`.

    Call it first, on every process, before any computation. Each argument
    falls back to Keras' environment variable: `KERAS_DISTRIBUTION_JOB_ADDRESSES`
    (comma-separated addresses; the first one, process 0's, is the
    coordinator: `"10.0.0.1:1234"` alone is enough),
    `KERAS_DISTRIBUTION_NUM_PROCESSES` and `KERAS_DISTRIBUTION_PROCESS_ID`.
    On a Cloud TPU VM or a SLURM/Open MPI cluster all three may stay None: JAX
    finds them from the environment.

    Afterwards the processes agree on a random seed when they do not already
    share one (`kerax.utils.set_random_seed` called with the same value on all
    of them), so unseeded initializers draw the same weights everywhere.

    Example (process 0 of 2; process 1 passes `process_id=1`)::

        kerax.distribution.initialize("10.0.0.1:1234", num_processes=2, process_id=0)
    """
    if job_addresses is None and ENV_JOB_ADDRESSES in os.environ:
        job_addresses = os.environ[ENV_JOB_ADDRESSES]
    if num_processes is None and ENV_NUM_PROCESSES in os.environ:
        num_processes = _env_int(ENV_NUM_PROCESSES)
    if process_id is None and ENV_PROCESS_ID in os.environ:
        process_id = _env_int(ENV_PROCESS_ID)
    coordinator = job_addresses
    if job_addresses and "," in job_addresses:
        addresses = [a.strip() for a in job_addresses.split(",") if a.strip()]
        if num_processes is not None and num_processes != len(addresses):
            raise ValueError(
                f"initialize: `job_addresses` lists {len(addresses)} jobs ({addresses}) but "
                f"num_processes={num_processes}.")
        coordinator = addresses[0]
    if num_processes is not None and process_id is not None and not (
            0 <= process_id < num_processes):
        raise ValueError(
            f"initialize: process_id={process_id} must be in [0, num_processes={num_processes}).")
    jax.distributed.initialize(coordinator_address=coordinator, num_processes=num_processes,
                               process_id=process_id)
    _agree_on_seed()


def _env_int(name):
    try:
        return int(os.environ[name])
    except ValueError:
        raise ValueError(
            f"initialize: environment variable {name}={os.environ[name]!r} is not an int.") from None


def _agree_on_seed():
    """Give every process the same Python-side seed state unless it has one."""
    if jax.process_count() == 1:
        return
    digest = np.int32(zlib.crc32(repr(_pyrandom.getstate()).encode()) & 0x7FFFFFFF)
    digests = np.asarray(multihost_utils.process_allgather(digest))
    if np.all(digests == digests.flat[0]):
        return
    seed = multihost_utils.broadcast_one_to_all(np.int32(_random.make_default_seed()))
    _random.set_random_seed(int(seed))
