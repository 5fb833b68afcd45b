"""Benchmark records and the named workloads."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from pathlib import Path

__all__ = ["BenchRecord", "WORKLOADS", "register_workload", "run_workloads"]


@dataclasses.dataclass
class BenchRecord:
    """One benchmark line."""

    workload: str
    variant: str
    compile_s: float
    train_s: float
    step_us: float
    final_loss: float
    quality: float
    quality_name: str
    extra: dict = dataclasses.field(default_factory=dict)

    def to_json(self) -> dict:
        return dataclasses.asdict(self)


WORKLOADS: dict[str, Callable[[bool, Path | None], list[BenchRecord]]] = {}


def register_workload(name: str):
    """Decorator: add ``fn(quick, data_dir) -> list[BenchRecord]`` to :data:`WORKLOADS`."""

    def wrap(fn):
        WORKLOADS[name] = fn
        return fn

    return wrap


def run_workloads(names: Iterable[str], *, quick: bool = False, data_dir: Path | None = None,
                  on_record: Callable[[BenchRecord], None] | None = None) -> list[BenchRecord]:
    """Run the named workloads in order; ``on_record`` sees each record as it is made."""
    names = list(names)
    unknown = [n for n in names if n not in WORKLOADS]
    if unknown:
        raise ValueError(f"unknown workload(s) {', '.join(unknown)}; valid: {', '.join(WORKLOADS)}")
    records = []
    for name in names:
        for rec in WORKLOADS[name](quick, data_dir):
            records.append(rec)
            if on_record:
                on_record(rec)
    return records
