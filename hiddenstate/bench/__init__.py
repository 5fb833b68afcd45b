"""The WORKLOADS.md recipes as benchmarks: ``hiddenstate bench W1 W2 [--json]``.

Every workload returns records, the seed's algorithm first (variant ``seed``),
then the library's defaults (``ours``) and any extra variants. Timing: a first
fit (compilation included) and identical later fits, which reuse the compiled
code; ``train_s`` is the fastest later fit (of 3 where a bare JAX loop of the same
recipe is timed too, best of 3 as well) and ``compile_s`` the first minus that.

The recipes are the experiments' own (``hiddenstate.experiments``); this package
adds the timing and the bare JAX loops the library's overhead is measured
against. It imports the experiments, never the other way round.
"""

from __future__ import annotations

from . import _cache, _workloads  # noqa: F401  (register W1..W6 and cache)
from ._registry import WORKLOADS, BenchRecord, register_workload, run_workloads
from ._timing import matmul_peak
from ._workloads import w2_flops, w2_products

register_workload("cache")(_cache.cache_workload)  # after W1..W6

__all__ = ["BenchRecord", "WORKLOADS", "run_workloads", "matmul_peak", "register_workload",
           "w2_flops", "w2_products"]
