"""Run with XLA_FLAGS=--xla_force_host_platform_device_count=4: data parallelism checks.

Prints one JSON line with the largest differences between runs on 1, 2 and 4
devices, and the device counts the parameters ended on.
"""

from __future__ import annotations

import json
import warnings

import jax
import numpy as np

from hiddenstate import train
from hiddenstate.datasets import load_digits
from hiddenstate.estimators import AutoencoderObjective
from hiddenstate.nn import AutoencoderNet
from hiddenstate.optim import make_optimizer


def run(devices, batch_size):
    X, _ = load_digits()
    X = X[:300]
    net = AutoencoderNet((64, 16), key=jax.random.key(0))
    res = train.fit(
        net,
        X,
        objective=AutoencoderObjective(alpha=1e-3),
        optimizer=make_optimizer("adam", 0.01),
        max_iter=5,
        rng=np.random.default_rng(0),
        key=jax.random.key(1),
        plan=train.BatchPlan.make(len(X), batch_size),
        devices=devices,
    )
    return res


if __name__ == "__main__":
    warnings.simplefilter("ignore")
    assert len(jax.devices()) == 4, jax.devices()
    out = {}
    for batch_size in (None, 7):
        one = run(1, batch_size)
        for n in (2, 4):
            many = run(n, batch_size)
            diff = max(
                float(np.max(np.abs(np.asarray(a) - np.asarray(b))))
                for a, b in zip(
                    jax.tree.leaves(one.model), jax.tree.leaves(many.model), strict=True
                )
            )
            spread = {len(x.sharding.device_set) for x in jax.tree.leaves(many.model)}
            out[f"batch={batch_size},devices={n}"] = {
                "max_abs_diff": diff,
                "param_devices": sorted(spread),
                "loss_diff": float(
                    np.max(np.abs(np.subtract(one.history.loss, many.history.loss)))
                ),
            }
    from hiddenstate import Autoencoder

    X, _ = load_digits()
    a = Autoencoder(8, max_iter=3, random_state=0, devices=1).fit(X).transform(X)
    b = Autoencoder(8, max_iter=3, random_state=0, devices=4).fit(X).transform(X)
    out["estimator"] = {"max_abs_diff": float(np.max(np.abs(a - b)))}
    print(json.dumps(out))
