"""One data-parallel timing run; started by scaling.py with N forced CPU devices.

``python scaling_worker.py N BATCH STEPS`` prints JSON: seconds per step (median
of 3 timed runs after a warm-up) and the gradient bytes all-reduced per step,
read from the compiled training loop's HLO.
"""

from __future__ import annotations

import json
import re
import sys
import time
import warnings
from pathlib import Path

import jax
import numpy as np

from hiddenstate import train
from hiddenstate.nn import AutoencoderNet
from hiddenstate.objectives import AutoencoderObjective
from hiddenstate.optim import make_optimizer

_BYTES = {"f32": 4, "f64": 8, "bf16": 2, "f16": 2, "s32": 4, "pred": 1}


def allreduce_bytes(hlo: str) -> int:
    """Sum of the operand sizes of every all-reduce in an HLO module's text."""
    total = 0
    for line in hlo.splitlines():
        if " all-reduce(" not in line and "all-reduce-start(" not in line:
            continue
        lhs = line.split("=", 1)[1] if "=" in line else line
        head = lhs.split("all-reduce", 1)[0]
        for dtype, dims in re.findall(r"(f32|f64|bf16|f16|s32|pred)\[([\d,]*)\]", head):
            size = int(np.prod([int(d) for d in dims.split(",") if d])) if dims else 1
            total += size * _BYTES[dtype]
    return total


if __name__ == "__main__":
    warnings.simplefilter("ignore")
    n_dev, batch, steps = (int(a) for a in sys.argv[1:4])
    dump = Path(sys.argv[4]) if len(sys.argv) > 4 else None
    X = (np.random.default_rng(0).random((batch * steps, 784)) < 0.2).astype(np.float32)
    net = AutoencoderNet((784, 500), key=jax.random.key(0), output="sigmoid")
    kw = dict(objective=AutoencoderObjective(loss="cross_entropy"),
              optimizer=make_optimizer("sgd", 0.1), max_iter=1, key=jax.random.key(0),
              plan=train.BatchPlan.make(len(X), batch, shuffle=False), devices=n_dev)
    train.fit(net, X, rng=np.random.default_rng(0), **kw)
    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        train.fit(net, X, rng=np.random.default_rng(0), **kw)
        times.append(time.perf_counter() - t0)
    out = {"devices": n_dev, "batch": batch, "steps": steps,
           "step_s": float(np.median(times)) / steps}
    if dump is not None:
        modules = sorted(dump.glob("*jit__run_epochs*after_optimizations.txt"))
        out["allreduce_bytes_per_step"] = allreduce_bytes(modules[-1].read_text()) if modules else 0
    print(json.dumps(out))
