"""Data-parallel scaling: measured on forced CPU devices, projected for 1-64 GPUs.

    python benchmarks/scaling.py [--batch 2000] [--steps 20] [--out benchmarks/results]

Measures, for 1, 2 and 4 forced CPU devices (they share this machine's cores,
so they test correctness and overhead, not speed), the W2 step time and the
bytes all-reduced per step (read from the compiled HLO). Then projects the
throughput of W2 for 1-64 GPUs with a ring all-reduce model:

    t(n) = t_compute(1) / n + 2 (n - 1) / n * bytes / bandwidth + 2 (n - 1) * latency

over two stated interconnects (NVLink-class inside a machine, 100 Gb/s
Ethernet between machines). t_compute(1) for a GPU is an assumption stated in
the output (the W2 FLOPs at a stated fraction of an H100's fp32 rate); where a
GPU machine is lent, replace it by the measured single-GPU step. The FLOPs are
``hiddenstate.bench.w2_flops`` (five products, ``10 B n h``), the count the bench
uses too.

    python benchmarks/scaling.py --from benchmarks/results/scaling.json

re-derives the projection from a stored run's measured all-reduce bytes, without
measuring again (the bytes depend only on the model: 784 x 500 float32, twice).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
INTERCONNECTS = {
    # name: (bytes per second per link direction, latency per ring step in seconds)
    "NVLink-class, 400 GB/s, 5 us": (400e9, 5e-6),
    "100 Gb/s Ethernet, 12.5 GB/s, 30 us": (12.5e9, 30e-6),
}
H100_FP32_FLOPS = 67e12  # dense fp32 (non-tensor-core) peak, SXM
ASSUMED_EFFICIENCY = 0.3


def measure(n: int, batch: int, steps: int) -> dict:
    with tempfile.TemporaryDirectory() as dump:
        env = {**os.environ, "XLA_FLAGS": f"--xla_force_host_platform_device_count={n} "
               f"--xla_dump_to={dump} --xla_dump_hlo_as_text"}
        proc = subprocess.run(
            [sys.executable, str(HERE / "scaling_worker.py"), str(n), str(batch), str(steps), dump],
            env=env, capture_output=True, text=True, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def project(t1: float, nbytes: float, n: int, bandwidth: float, latency: float) -> float:
    """Seconds per step on ``n`` devices under the ring all-reduce model."""
    if n == 1:
        return t1
    return t1 / n + 2 * (n - 1) / n * nbytes / bandwidth + 2 * (n - 1) * latency


def assumed_step_s(batch: int) -> float:
    """The assumed single-GPU W2 step: its FLOPs at the stated share of an H100's rate."""
    from hiddenstate.bench import w2_flops

    return w2_flops(batch) / (H100_FP32_FLOPS * ASSUMED_EFFICIENCY)


def projection_rows(batch: int, nbytes: float) -> dict:
    """Interconnect name -> rows of the projected step for 1-64 GPUs."""
    t1 = assumed_step_s(batch)
    projection = {}
    for name, (bw, lat) in INTERCONNECTS.items():
        rows = []
        for n in (1, 2, 4, 8, 16, 32, 64):
            t = project(t1, nbytes, n, bw, lat)
            rows.append({"devices": n, "step_s": t, "samples_per_s": batch / t,
                         "speedup": t1 / t, "efficiency": t1 / t / n})
        projection[name] = rows
    return projection


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=2000)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--out", default="benchmarks/results")
    parser.add_argument("--from", dest="stored", default=None,
                        help="a stored scaling.json: project from its measurements")
    args = parser.parse_args(argv)
    if args.stored:
        measured = json.loads(Path(args.stored).read_text())["measured_forced_cpu_devices"]
    else:
        measured = [measure(n, args.batch, args.steps) for n in (1, 2, 4)]
    for m in measured:
        print(f"{m['devices']} forced CPU device(s): {m['step_s'] * 1e3:8.2f} ms/step, "
              f"{m['allreduce_bytes_per_step'] / 2**20:6.2f} MiB all-reduced per step")
    nbytes = max(m["allreduce_bytes_per_step"] for m in measured)
    t1 = assumed_step_s(args.batch)
    flops = t1 * H100_FP32_FLOPS * ASSUMED_EFFICIENCY  # w2_flops(batch), 10 B n h
    print(f"\nprojection, W2 step with global batch {args.batch}: {flops / 1e9:.1f} GFLOP, "
          f"{nbytes / 2**20:.2f} MiB all-reduced; assumed single-GPU step {t1 * 1e6:.0f} us "
          f"({ASSUMED_EFFICIENCY:.0%} of an H100's {H100_FP32_FLOPS / 1e12:.0f} TFLOP/s fp32)")
    projection = projection_rows(args.batch, nbytes)
    for name, rows in projection.items():
        print(f"\n{name}")
        print("  devices   step us   samples/s   speedup   efficiency")
        for r in rows:
            print(f"  {r['devices']:7d} {r['step_s'] * 1e6:9.1f} {r['samples_per_s']:11.0f} "
                  f"{r['speedup']:9.2f} {r['efficiency']:12.0%}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "scaling.json").write_text(json.dumps({
        "measured_forced_cpu_devices": measured,
        "model": "t(n) = t1/n + 2(n-1)/n * bytes/bandwidth + 2(n-1)*latency",
        "assumed_single_gpu_step_s": t1, "allreduce_bytes_per_step": nbytes,
        "projection": projection}, indent=2))
    print(f"\nwrote {out / 'scaling.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
