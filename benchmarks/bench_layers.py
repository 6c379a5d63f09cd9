"""FrgNet64 training step and inference: nanonet against torch (a peer, when installed) and the GEMM bound.

    python benchmarks/bench_layers.py            # CPU, batch 64; rewrites its section of BENCHMARKS.md
    python benchmarks/bench_layers.py --gpu 0    # nanonet on CuPy against torch on CUDA
    python benchmarks/bench_layers.py --quick    # a smoke test: tiny batch, one repeat

nanonet and torch alternate round by round in one process, so both see the same machine state; each figure is
the median over the rounds. The bound is what the device's float32 GEMM rate (NumPy's matmul, or CuPy's on
the GPU) allows at FrgNet64's FLOPs: 1 forward pass per image for inference, 3 (forward, and backward for
inputs and weights) for training.
"""
import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import nanonet as nn  # noqa: E402
from benchmarks.common import machine_line, median_time, write_section  # noqa: E402
from nanonet.backend import BackendError, device_name, use_device  # noqa: E402
from nanonet.losses import softmax_cross_entropy  # noqa: E402
from nanonet.optim import MomentumSGD  # noqa: E402
from nets.frg import frgnet  # noqa: E402

try:
    import torch
except ImportError:
    torch = None


def forward_flops(net, shape):
    """FLOPs of one forward pass (2 per multiply-add of the convolutions and dense layers)."""
    flops, x = 0, np.zeros((1,) + shape, dtype=np.float32)
    for layer in net.layers:
        y = layer.forward(x)
        if isinstance(layer, nn.Conv2D):
            flops += 2 * layer.W.data.size * y.shape[2] * y.shape[3]
        elif isinstance(layer, nn.Linear):
            flops += 2 * layer.W.data.size
        x = y
    return flops


def gemm_gflops(repeats, xp, sync, n=2048):
    a = xp.asarray(np.random.default_rng(0).random((n, n), dtype=np.float32))
    seconds, _, _ = median_time(lambda: a @ a, repeats, sync)
    return 2 * n ** 3 / seconds / 1e9


def torch_frgnet64():
    t = torch.nn
    return t.Sequential(
        t.Conv2d(3, 96, 5, padding=2), t.BatchNorm2d(96, eps=2e-5, momentum=0.1), t.ReLU(),
        t.MaxPool2d(5, 2, ceil_mode=True),
        t.Conv2d(96, 128, 5, padding=2), t.BatchNorm2d(128, eps=2e-5, momentum=0.1), t.ReLU(),
        t.MaxPool2d(5, 2, ceil_mode=True),
        t.Conv2d(128, 256, 3, padding=1), t.ReLU(), t.MaxPool2d(3, 2, ceil_mode=True),
        t.Conv2d(256, 384, 3, padding=1), t.LeakyReLU(0.2),
        t.Flatten(), t.Linear(18816, 2048), t.LeakyReLU(0.2), t.Dropout(0.5), t.Linear(2048, 2))


class NanonetRunner:
    name = "nanonet"

    def __init__(self, batch, xp):
        rng = np.random.default_rng(0)
        self.net = frgnet(rng)
        self.x = rng.normal(size=(batch, 3, 64, 64)).astype(np.float32)
        self.t = rng.integers(0, 2, size=batch)
        if xp is not np:
            self.net.to_gpu()
            self.x, self.t = xp.asarray(self.x), xp.asarray(self.t)
            self.sync = xp.cuda.Device().synchronize
        else:
            self.sync = lambda: None
        self.opt = MomentumSGD(lr=0.001, momentum=0.9, weight_decay=1e-4).setup(self.net)

    def train_step(self):
        _, gy = softmax_cross_entropy(self.net.forward(self.x, train=True), self.t)
        self.net.backward(gy)
        self.opt.update()

    def infer(self):
        self.net.forward(self.x, train=False)

    def profile(self, repeats):
        """Median ms of each layer's forward and backward in a training step."""
        layers = self.net.layers
        fwd, bwd, upd = [[] for _ in layers], [[] for _ in layers], []
        for _ in range(repeats + 1):
            y = self.x
            for i, layer in enumerate(layers):
                start = time.perf_counter()
                y = layer.forward(y, train=True)
                self.sync()
                fwd[i].append(time.perf_counter() - start)
            _, g = softmax_cross_entropy(y, self.t)
            for i in reversed(range(len(layers))):
                start = time.perf_counter()
                g = layers[i].backward(g)
                self.sync()
                bwd[i].append(time.perf_counter() - start)
            start = time.perf_counter()
            self.opt.update()
            self.sync()
            upd.append(time.perf_counter() - start)
        ms = lambda ts: 1000 * float(np.median(ts[1:]))  # noqa: E731 (the first round compiles and warms up)
        return [(repr(layer), ms(f), ms(b)) for layer, f, b in zip(layers, fwd, bwd)], ms(upd)


class TorchRunner:
    name = "torch"

    def __init__(self, batch, device):
        rng = np.random.default_rng(0)
        self.device = torch.device(device)
        self.net = torch_frgnet64().to(self.device)
        self.x = torch.from_numpy(rng.normal(size=(batch, 3, 64, 64)).astype(np.float32)).to(self.device)
        self.t = torch.from_numpy(rng.integers(0, 2, size=batch)).to(self.device)
        self.opt = torch.optim.SGD(self.net.parameters(), lr=0.001, momentum=0.9, weight_decay=1e-4)
        self.sync = torch.cuda.synchronize if self.device.type == "cuda" else (lambda: None)

    def train_step(self):
        self.net.train()
        self.opt.zero_grad()
        torch.nn.functional.cross_entropy(self.net(self.x), self.t).backward()
        self.opt.step()

    def infer(self):
        self.net.eval()
        with torch.no_grad():
            self.net(self.x)


def interleaved(runners, task, batch, rounds):
    """{name: (median, min, max) images/s}, the runners taking turns round by round."""
    times = {r.name: [] for r in runners}
    for r in runners:
        getattr(r, task)()
        r.sync()
    for _ in range(rounds):
        for r in runners:
            seconds, _, _ = median_time(getattr(r, task), 1, r.sync)
            times[r.name].append(seconds)
    return {name: (batch / np.median(ts), batch / max(ts), batch / min(ts)) for name, ts in times.items()}


def report(args, device, flops, gemm, results, profile, update_ms):
    train, infer = results["train_step"], results["infer"]
    bound = {"train_step": gemm * 1e9 / (3 * flops), "infer": gemm * 1e9 / flops}
    on_gpu = args.gpu >= 0
    lines = [
        f"## FrgNet64 training step and inference{' on a GPU' if on_gpu else ''} (`benchmarks/bench_layers.py"
        f"{' --gpu 0' if on_gpu else ''}`)",
        "",
        f"Machine: {machine_line()}; device: {device}. Batch {args.batch} of 64x64x3, float32, "
        f"MomentumSGD with weight decay; median (min–max) over {args.rounds} interleaved rounds.",
        f"NumPy {np.__version__}" + (f", torch {torch.__version__}" if torch else ", torch not installed")
        + f". FrgNet64 forward pass: {flops / 1e9:.3f} GFLOP per image. "
        f"{'CuPy' if on_gpu else 'NumPy'} float32 GEMM: {gemm:.0f} GFLOP/s."
        + (" torch's cuDNN convolutions use TF32 by default; nanonet's CuPy GEMMs are plain float32." if on_gpu
           else ""),
        "",
        "| | training images/s | inference images/s |",
        "|---|---|---|",
    ]
    fmt = lambda r: f"{r[0]:.1f} ({r[1]:.1f}–{r[2]:.1f})"  # noqa: E731
    for name in train:
        lines.append(f"| {name} | {fmt(train[name])} | {fmt(infer[name])} |")
    lines.append(f"| GEMM bound | {bound['train_step']:.1f} | {bound['infer']:.1f} |")
    lines += ["", "| ratio | training | inference |", "|---|---|---|"]
    if "torch" in train:
        lines.append(f"| nanonet / torch | {train['nanonet'][0] / train['torch'][0]:.2f} | "
                     f"{infer['nanonet'][0] / infer['torch'][0]:.2f} |")
    lines.append(f"| nanonet / GEMM bound | {train['nanonet'][0] / bound['train_step']:.2f} | "
                 f"{infer['nanonet'][0] / bound['infer']:.2f} |")
    if "torch" in train:
        lines.append(f"| torch / GEMM bound | {train['torch'][0] / bound['train_step']:.2f} | "
                     f"{infer['torch'][0] / bound['infer']:.2f} |")
    total = sum(f + b for _, f, b in profile) + update_ms
    lines += ["", f"Where nanonet's training step spends its time (median ms per layer, batch {args.batch}):", "",
              "| layer | forward | backward | share |", "|---|---|---|---|"]
    for name, f, b in profile:
        lines.append(f"| `{name}` | {f:.1f} | {b:.1f} | {100 * (f + b) / total:.0f}% |")
    lines.append(f"| optimizer update | | {update_ms:.1f} | {100 * update_ms / total:.0f}% |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=7, help="interleaved rounds per figure")
    parser.add_argument("--gpu", type=int, default=-1, metavar="N", help="GPU number, -1 for the CPU")
    parser.add_argument("--quick", action="store_true", help="batch 4, 1 round: a smoke test")
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "BENCHMARKS.md"))
    args = parser.parse_args(argv)
    if args.quick:
        args.batch, args.rounds = 4, 1
    try:
        xp = use_device(args.gpu)
    except BackendError as e:
        print(f"bench_layers.py: {e}", file=sys.stderr)
        return 2
    runners = [NanonetRunner(args.batch, xp)]
    if args.gpu >= 0:
        if torch is not None and torch.cuda.is_available():
            runners.append(TorchRunner(args.batch, f"cuda:{args.gpu}"))
    elif torch is not None:
        torch.set_num_threads(os.cpu_count())
        runners.append(TorchRunner(args.batch, "cpu"))
    if torch is None:
        print("torch is not installed: measuring nanonet alone (pip install torch==2.13.0 to compare)")
    flops = forward_flops(frgnet(np.random.default_rng(0)), (3, 64, 64))
    gemm = gemm_gflops(max(args.rounds, 3), xp, runners[0].sync)
    results = {task: interleaved(runners, task, args.batch, args.rounds) for task in ("train_step", "infer")}
    profile, update_ms = runners[0].profile(max(args.rounds // 2, 1))
    body = report(args, device_name(args.gpu), flops, gemm, results, profile, update_ms)
    write_section(args.out, "bench_layers" + ("_gpu" if args.gpu >= 0 else ""), body)
    print(body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
