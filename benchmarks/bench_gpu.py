"""nanonet on a GPU against the CPU of the same machine: training steps of every registered net, and the
shipped detectors.

    python benchmarks/bench_gpu.py [--gpu 0] [--rounds 5] [--out BENCHMARKS.md]

Training: images/s of one step (forward, backward, momentum update) of each net in nets/registry.py at its
own batch size, on random inputs. Detection: ms per picture for the face cascade and the anime detector at
640x480, 1280x720 and 1920x1080, the picture being examples/astronaut.jpg cut to the aspect ratio and
resized (it needs no data set, so it runs on any machine with a GPU). On the GPU the nets run as CuPy
kernels; the pyramid, the crops and NMS stay on the CPU. The CPU runs use all its cores, with the thread
settings of train.py (NumPy's BLAS on every core) and detect.py (BLAS on one, numba on every core): each
part runs in a process of its own. In each round the CPU and the GPU take turns; a figure is the median
over the rounds of each round's median.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import nets  # noqa: E402
from benchmarks.bench_throughput import picture  # noqa: E402
from benchmarks.common import machine_line, write_section  # noqa: E402
from nanonet.backend import BackendError, device_name, use_device  # noqa: E402
from nanonet.losses import softmax_cross_entropy  # noqa: E402
from nanonet.optim import MomentumSGD  # noqa: E402
from nets.registry import NETS  # noqa: E402

PICTURE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples", "astronaut.jpg")
SIZES = ((640, 480), (1280, 720), (1920, 1080))


class TrainStep:
    """One training step of a registered net on a fixed random batch, on the CPU or the GPU."""

    def __init__(self, spec, xp):
        rng = np.random.default_rng(0)
        classes = 45 if spec.samples == "calibration" else 2
        self.net = spec.build(rng, classes)
        self.x = rng.normal(size=(spec.batch, 3, spec.input_size, spec.input_size)).astype(np.float32)
        self.t = rng.integers(0, classes, spec.batch)
        self.sync = lambda: None
        if xp is not np:
            self.net.to_gpu()
            self.x, self.t, self.sync = xp.asarray(self.x), xp.asarray(self.t), xp.cuda.Device().synchronize
        self.opt = MomentumSGD(lr=1e-3, momentum=0.9, weight_decay=1e-4).setup(self.net)

    def __call__(self):
        _, gy = softmax_cross_entropy(self.net.forward(self.x, train=True), self.t)
        self.net.backward(gy)
        self.opt.update()
        self.sync()


def timed(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def rounds_of(tasks, rounds, repeats):
    """{name: [median seconds of each round]}, the tasks taking turns within each round."""
    for fn in tasks.values():
        fn()                                   # warm-up: compilation, first allocations
    out = {name: [] for name in tasks}
    for _ in range(rounds):
        times = {name: [] for name in tasks}
        for _ in range(repeats):
            for name, fn in tasks.items():
                times[name].append(timed(fn))
        for name, t in times.items():
            out[name].append(statistics.median(t))
    return out


def training(gpu, rounds):
    xp = use_device(gpu)
    rows = ["| net | batch | CPU img/s | GPU img/s | GPU / CPU |", "|---|---|---|---|---|"]
    for name, spec in NETS.items():
        steps = {"cpu": TrainStep(spec, np), "gpu": TrainStep(spec, xp)}
        got = rounds_of(steps, rounds, 3)
        cpu, gpu_s = (statistics.median(got[k]) for k in ("cpu", "gpu"))
        rows.append(f"| `{name}` | {spec.batch} | {spec.batch / cpu:.0f} | {spec.batch / gpu_s:.0f} | "
                    f"{cpu / gpu_s:.1f}x |")
        print(rows[-1], file=sys.stderr, flush=True)
    return rows


def detection(gpu, rounds):
    rows = ["| detector | picture | CPU ms | GPU ms | GPU / CPU |", "|---|---|---|---|---|"]
    for name in nets.DETECTORS:
        cpu, on_gpu = nets.load(name), nets.load(name, gpu=gpu)
        for width, height in SIZES:
            image = picture(PICTURE, width, height)
            got = rounds_of({"cpu": lambda: cpu.detect(image), "gpu": lambda: on_gpu.detect(image)}, rounds, 3)
            c, g = (1000 * statistics.median(got[k]) for k in ("cpu", "gpu"))
            rows.append(f"| nanonet {name} | {width}x{height} | {c:.1f} | {g:.1f} | {c / g:.1f}x |")
            print(rows[-1], file=sys.stderr, flush=True)
    return rows


PARTS = {"training": (training, {}),
         "detection": (detection, {"OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"})}   # as detect.py


def run_part(part, args):
    """The table rows of one part, measured in a process of its own with that part's thread settings."""
    command = [sys.executable, os.path.abspath(__file__), "--part", part, "--gpu", str(args.gpu),
               "--rounds", str(args.rounds)]
    done = subprocess.run(command, env=dict(os.environ, **PARTS[part][1]), stdout=subprocess.PIPE, text=True)
    if done.returncode:
        raise SystemExit(f"bench_gpu.py: the {part} part failed")
    return json.loads(done.stdout)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gpu", type=int, default=0, metavar="N")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--part", choices=PARTS, help=argparse.SUPPRESS)
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "BENCHMARKS.md"))
    args = parser.parse_args(argv)
    try:
        use_device(args.gpu)
    except BackendError as e:
        print(f"bench_gpu.py: {e}; nothing to measure")
        return 0
    if args.part:
        json.dump(PARTS[args.part][0](args.gpu, args.rounds), sys.stdout)
        return 0
    body = [f"Machine: {machine_line()}; GPU: {device_name(args.gpu)}. {args.rounds} rounds.", "",
            "Training steps, random inputs, each net at its registry batch size:", ""]
    body += run_part("training", args)
    body += ["", "Detection, shipped defaults, examples/astronaut.jpg cut and resized:", ""]
    body += run_part("detection", args)
    body = "\n".join(body)
    write_section(args.out, "bench_gpu", body)
    print(body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
