"""Several processes or machines, on JAX's own distributed runtime.

Start the same program once per process with the same coordinator address::

    hiddenstate autoencoder fit data.npy --coordinator 10.0.0.1:12355 \\
        --num-processes 2 --process-id 0 --out model.safetensors   # on machine 0
    ... --process-id 1 ...                                         # on machine 1

or in Python, before any other JAX call::

    from hiddenstate import distributed
    distributed.initialize("10.0.0.1:12355", num_processes=2, process_id=0)

Every process then sees the devices of all processes (``jax.devices()``); the
training loop builds its data-parallel mesh over all of them and XLA
all-reduces the gradients across processes (Gloo on CPUs, NCCL on GPUs).
Each process reads only its own contiguous block of rows
(:func:`process_rows`); :func:`allgather_rows` then gives every process the
whole data, in file order, so the minibatches are the ones a single process
would draw and the result matches a one-process run.
"""

from __future__ import annotations

import numpy as np

__all__ = ["initialize", "is_initialized", "process_rows", "allgather_rows", "host", "put"]

_initialized = False


def initialize(coordinator: str, num_processes: int, process_id: int) -> None:
    """Join a multi-process run (``jax.distributed.initialize``); CPU collectives via Gloo."""
    global _initialized
    import jax

    if not 0 <= int(process_id) < int(num_processes):
        raise ValueError(f"process_id must be in [0, {num_processes}), got {process_id}")
    if ":" not in coordinator:
        raise ValueError(f"coordinator must be HOST:PORT, got {coordinator!r}")
    try:
        jax.config.update("jax_cpu_collectives_implementation", "gloo")
    except (AttributeError, ValueError):  # older JAX: CPU collectives not configurable
        pass
    jax.distributed.initialize(
        coordinator, num_processes=int(num_processes), process_id=int(process_id)
    )
    _initialized = True


def is_initialized() -> bool:
    return _initialized


def process_rows(n: int, process_id: int | None = None, num_processes: int | None = None):
    """The contiguous ``slice`` of ``n`` rows this process reads."""
    import jax

    p = jax.process_index() if process_id is None else process_id
    k = jax.process_count() if num_processes is None else num_processes
    bounds = np.linspace(0, n, k + 1).round().astype(int)
    return slice(int(bounds[p]), int(bounds[p + 1]))


def allgather_rows(local: np.ndarray) -> np.ndarray:
    """Concatenate every process's rows, in process order, on every process."""
    import jax
    from jax.experimental import multihost_utils

    if jax.process_count() == 1:
        return np.asarray(local)
    local = np.asarray(local)
    sizes = np.asarray(multihost_utils.process_allgather(np.array([local.shape[0]])))
    sizes = sizes.reshape(-1)
    width = int(sizes.max())
    padded = np.zeros((width, *local.shape[1:]), local.dtype)
    padded[: local.shape[0]] = local
    gathered = np.asarray(multihost_utils.process_allgather(padded))
    gathered = gathered.reshape(len(sizes), width, *local.shape[1:])
    return np.concatenate([gathered[i, : sizes[i]] for i in range(len(sizes))])


def host(x) -> np.ndarray:
    """A numpy copy of ``x``, also when it is a replicated array spanning several processes."""
    import jax

    if isinstance(x, jax.Array) and not x.is_fully_addressable:
        return np.asarray(x.addressable_data(0))
    return np.asarray(x)


def put(tree, sharding):
    """``jax.device_put`` that also works when ``sharding`` spans several processes.

    Every process must pass the same values (they are host data replicated by
    construction: same seed, same data).
    """
    import jax

    if jax.process_count() == 1:
        return jax.device_put(tree, sharding)

    def one(x):
        x = host(x)
        return jax.make_array_from_callback(x.shape, sharding, lambda index: x[index])

    return jax.tree.map(one, tree)
