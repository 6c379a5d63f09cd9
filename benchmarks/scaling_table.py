"""The expected scaling of data-parallel training, per net: gradient bytes all-reduced per step (from the
registry's nets) against the step times bench_gpu.py measured (BENCHMARKS.md), written into docs/scaling.md.

    python benchmarks/scaling_table.py [--out docs/scaling.md]

A ring all-reduce of B bytes over G GPUs sends 2 (G - 1) / G * B bytes from each GPU; at link bandwidth W
that takes 2 (G - 1) / G * B / W. Without overlap, a step on G GPUs (each its own batch) takes t + that, so
the speed-up is G * t / (t + 2 (G - 1) / G * B / W).
"""
import argparse
import os
import re
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.common import write_section  # noqa: E402
from nets.registry import NETS  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LINKS = {"NVLink 4 (H100 SXM, 450 GB/s a direction)": 450e9, "PCIe 5 x16 (64 GB/s)": 64e9,
         "100 Gb/s Ethernet between machines (12.5 GB/s)": 12.5e9}
GPUS = 8
OUTPUTS = {"calibration": 45, "smile": 2, "emotion": 7, "emotion-va": 2, "keypoints": 136, "keypoints-fine": 136}


def gradient_bytes(spec):
    """float32 bytes of the net's parameters: what one step all-reduces."""
    outputs = OUTPUTS.get(spec.name, 45 if spec.samples == "calibration" else 2)
    model = spec.build(np.random.default_rng(0), outputs)
    return 4 * sum(p.data.size for _, p in model.named_params())


def measured_throughput(benchmarks):
    """{net: (batch, GPU images a second)} from bench_gpu.py's table in BENCHMARKS.md."""
    text = open(benchmarks).read()
    return {m[0]: (int(m[1]), float(m[2])) for m in re.findall(r"^\| `(\w+)` \| (\d+) \| [\d.]+ \| ([\d.]+) \|",
                                                            text, re.M)}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default=os.path.join(ROOT, "docs", "scaling.md"))
    args = p.parse_args(argv)
    measured = measured_throughput(os.path.join(ROOT, "BENCHMARKS.md"))
    ring = 2 * (GPUS - 1) / GPUS
    lines = ["| net | parameters (MB all-reduced a step) | batch | step on one GPU (ms) | "
             + " | ".join(f"speed-up on {GPUS} GPUs, {link}" for link in LINKS) + " |",
             "|---|---|---|---|" + "---|" * len(LINKS)]
    for name, (batch, rate) in measured.items():
        size = gradient_bytes(NETS[name])
        step = batch / rate
        ups = [GPUS * step / (step + ring * size / bandwidth) for bandwidth in LINKS.values()]
        lines.append(f"| `{name}` | {size / 1e6:.2f} | {batch} | {step * 1e3:.1f} | "
                     + " | ".join(f"{u:.1f}x" for u in ups) + " |")
    body = "\n".join(lines)
    print(body)
    write_section(args.out, "scaling_table", body)


if __name__ == "__main__":
    main()
