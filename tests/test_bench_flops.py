"""The FLOP count behind W2's GFLOP/s and fraction of peak, held against XLA's own count."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from hiddenstate.bench._timing import products_rate
from hiddenstate.bench._workloads import _w2_flops, _w2_products
from hiddenstate.nn import AutoencoderNet
from hiddenstate.objectives import AutoencoderObjective


def _xla_flops(batch: int, n: int, h: int) -> float:
    """FLOPs XLA counts in the compiled gradient of the seed's tied W2 loss."""
    net = AutoencoderNet((n, h), key=jax.random.key(0), tied=True, activation="sigmoid",
                         output="sigmoid")
    params, static = eqx.partition(net, eqx.is_array)
    objective = AutoencoderObjective(loss="cross_entropy")
    x = jnp.asarray((np.random.default_rng(0).random((batch, n)) < 0.2).astype(np.float32))
    w = jnp.ones(batch, jnp.float32)

    def loss(p):
        return objective(eqx.combine(p, static), x, w, None)

    cost = jax.jit(jax.grad(loss)).lower(params).compile().cost_analysis()
    cost = cost[0] if isinstance(cost, list) else cost
    return float(cost["flops"])


@pytest.mark.parametrize("batch", [20, 64])
def test_w2_flop_count_is_the_five_products_xla_compiles(batch):
    n, h = 96, 40
    assert _w2_flops(batch, n, h) == 10.0 * batch * n * h
    assert len(_w2_products(batch, n, h)) == 5
    # XLA's count adds the elementwise work (sigmoids, the loss): a few percent more,
    # never a sixth product.
    xla = _xla_flops(batch, n, h)
    assert _w2_flops(batch, n, h) <= xla < 1.1 * _w2_flops(batch, n, h)


def test_products_rate_is_a_positive_rate():
    assert products_rate([(4, 8, 3), (8, 4, 3)], repeats=3) > 0
