"""The FLOP count behind W2's GFLOP/s and fraction of peak, held against XLA's own count."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from hiddenstate.bench._timing import products_rate
from hiddenstate.bench._workloads import w2_flops, w2_products
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
    assert w2_flops(batch, n, h) == 10.0 * batch * n * h
    assert len(w2_products(batch, n, h)) == 5
    # XLA's count adds the elementwise work (sigmoids, the loss): a few percent more,
    # never a sixth product.
    xla = _xla_flops(batch, n, h)
    assert w2_flops(batch, n, h) <= xla < 1.1 * w2_flops(batch, n, h)


def test_products_rate_is_a_positive_rate():
    assert products_rate([(4, 8, 3), (8, 4, 3)], repeats=3) > 0


def test_scaling_projection_uses_the_same_five_product_count():
    """benchmarks/scaling.py's assumed single-GPU step is :func:`w2_flops` at its stated
    rate (it counted six products until December 2026), and the README's projected
    speed-ups (1.83x on 2 GPUs, 2.80x on 4, a peak of 2.94x at 8 over NVLink-class
    links) follow from it and the 2 x 784 x 500 float32 gradients all-reduced."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "scaling.py"
    spec = importlib.util.spec_from_file_location("scaling_benchmark", path)
    scaling = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(scaling)
    rate = scaling.H100_FP32_FLOPS * scaling.ASSUMED_EFFICIENCY
    assert scaling.assumed_step_s(2000) == w2_flops(2000) / rate == 10 * 2000 * 784 * 500 / rate
    rows = scaling.projection_rows(2000, 2 * 784 * 500 * 4)["NVLink-class, 400 GB/s, 5 us"]
    speedup = {r["devices"]: round(r["speedup"], 2) for r in rows}
    assert (speedup[2], speedup[4], speedup[8]) == (1.83, 2.80, 2.94)
    assert max(speedup.values()) == speedup[8]
