"""Does loading keep up with training? The zip reader with augmentation against the training step.

    python benchmarks/bench_data.py [--batches 30] [--out BENCHMARKS.md]

Reads ../shared/data/anime-faces-64.zip as train.py does (decode, augment as each net is trained,
normalise, batch of 64) on one thread, the way the background loader runs, and times the training step of
FrgNet64 and FrgNet64-slim on the same machine in the same run.
"""
import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.common import machine_line, median_time, write_section  # noqa: E402
from nanonet.data.datasets import open_dataset  # noqa: E402
from nanonet.data.iterator import BatchIterator  # noqa: E402
from nanonet.data.normalize import Normalization  # noqa: E402
from nanonet.losses import softmax_cross_entropy  # noqa: E402
from nanonet.optim import MomentumSGD  # noqa: E402
from nets import registry  # noqa: E402

BATCH = 64


def loader_rate(dataset, spec, normalization, batches):
    it = BatchIterator(dataset, BATCH, spec.input_size, normalization, spec.augment, seed=0, prefetch=False)
    start, count = time.perf_counter(), 0
    for i, (x, _) in enumerate(it.epoch(0)):
        count += len(x)
        if i + 1 == batches:
            break
    return count / (time.perf_counter() - start)


def train_rate(spec, rounds):
    rng = np.random.default_rng(0)
    net = spec.build(rng, 2)
    opt = MomentumSGD(lr=spec.lr, momentum=spec.momentum, weight_decay=spec.weight_decay).setup(net)
    x = rng.normal(size=(BATCH, 3, spec.input_size, spec.input_size)).astype(np.float32)
    t = rng.integers(0, 2, BATCH)

    def step():
        net.backward(softmax_cross_entropy(net.forward(x, train=True), t)[1])
        opt.update()
    return BATCH / median_time(step, rounds)[0]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batches", type=int, default=30, help="batches read per loader figure")
    parser.add_argument("--rounds", type=int, default=5, help="training steps timed per net")
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "BENCHMARKS.md"))
    args = parser.parse_args(argv)
    path = registry.NETS["frg64"].data
    if not os.path.exists(path):
        print(f"bench_data.py: {path} is not here; nothing to measure")
        return 0
    dataset = open_dataset(path)
    normalization = Normalization.fit(dataset.image(i) for i in range(0, len(dataset), 97))
    rows = []
    for name in ("frg64", "frg64s"):
        spec = registry.NETS[name]
        loading, training = loader_rate(dataset, spec, normalization, args.batches), train_rate(spec, args.rounds)
        rows.append(f"| {name} | {loading:.0f} | {training:.1f} | {loading / training:.0f}x |")
    body = "\n".join([
        "## Loading against training (`benchmarks/bench_data.py`)", "",
        f"Machine: {machine_line()}. `anime-faces-64.zip` read by one thread (decode, the net's training "
        f"augmentation, normalisation, batches of {BATCH}) against the net's training step on all cores.", "",
        "| net | loader images/s (1 thread) | training step images/s | loader / training |", "|---|---|---|---|",
        *rows, "",
        "train.py loads in a background thread, so a loader many times faster than the step never starves it."])
    write_section(args.out, "bench_data", body)
    print(body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
