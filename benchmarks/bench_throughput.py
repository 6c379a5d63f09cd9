"""Throughput of the detectors detect.py ships against OpenCV's cascades and the optional peers: median ms
per image and images/s at 640x480, 1280x720 and 1920x1080, on one thread and on all cores.

    python benchmarks/bench_throughput.py [--images 8] [--rounds 3] [--sizes 640x480,...] [--out BENCHMARKS.md]

The pictures are real: the held-out WebFaces validation images for the face detectors, the scenes of
../shared/data/anime-scenes for the anime ones, each cut to the aspect ratio and resized. Every thread count
runs in a process of its own, with numba and OpenMP limited to that many threads and NumPy's BLAS on one,
as detect.py runs it; OpenCV gets cv2.setNumThreads, onnxruntime (MTCNN) its intra-op threads, which sleep
rather than spin when idle (benchmarks/peer_worker.py); MediaPipe picks its own. In each
round every detector takes its turn on every picture; a figure is the median over the rounds of each round's
median time, with the min-max of those round medians. All look for faces of at least 24 pixels. With a GPU
and CuPy, nanonet face also runs on the GPU (CuPy kernels; the pyramid and crops on the CPU).
"""
import argparse
import glob
import json
import os
import statistics
import subprocess
import sys

import cv2

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import nets  # noqa: E402
from benchmarks import peers  # noqa: E402
from benchmarks.common import machine_line, webfaces_validation, write_section  # noqa: E402
from nanonet.backend import cupy_available, device_name  # noqa: E402
from nanonet.data.image import read_image  # noqa: E402
from nanonet.progress import Progress  # noqa: E402
from nets.registry import NETS  # noqa: E402

SIZES = "640x480,1280x720,1920x1080"
MIN_SIZE = 24
BASELINES = {"faces": ("haarcascade_frontalface_default", "Haar"), "anime": ("lbpcascade_animeface", "LBP")}


def picture(path, width, height):
    """The image at `path` cut to width:height about its centre and resized to width x height."""
    image = read_image(path)
    h, w = image.shape[:2]
    if w * height > h * width:
        cut = h * width // height
        image = image[:, (w - cut) // 2:(w - cut) // 2 + cut]
    else:
        cut = w * height // width
        image = image[(h - cut) // 2:(h - cut) // 2 + cut]
    shrink = image.shape[1] > width
    return cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)


def lineups(threads, gpu):
    """{group: [Detector]}, versions of the external peers, and notes on the peers skipped."""
    face = [peers.Detector("nanonet face", nets.load("face", min_size=MIN_SIZE).detect)]
    if gpu is not None:
        face.append(peers.Detector(f"nanonet face (GPU: {device_name(gpu)})", nets.load("face", gpu=gpu, min_size=MIN_SIZE).detect))
    others, notes = peers.face_peers(MIN_SIZE, threads)
    anime = [peers.Detector("nanonet anime", nets.load("anime").detect), peers.lbp_animeface(MIN_SIZE)]
    versions = {p.name: p.version for p in others if hasattr(p, "version")}
    return {"faces": face + others, "anime": anime}, versions, notes


def measure(args):
    """{group: {size: {detector: [median ms of each round]}}} on args.measure threads, as JSON on stdout."""
    cv2.setNumThreads(args.measure)
    gpu = 0 if args.measure > 1 and cupy_available() else None
    detectors, versions, notes = lineups(args.measure, gpu)
    paths = {"faces": [a.path for a in webfaces_validation()[:args.images]],
             "anime": sorted(glob.glob(os.path.join(peers.ANIME_SCENES, "*.jpg")))[:args.images]}
    sizes = [tuple(map(int, s.split("x"))) for s in args.sizes.split(",")]
    total = sum(len(paths[g]) * len(detectors[g]) for g in detectors) * len(sizes) * args.rounds
    bar = Progress(total, f"throughput on {args.measure} thread{'s' * (args.measure > 1)}", unit="image")
    results = {}
    for group, lineup in detectors.items():
        for width, height in sizes:
            images = [picture(p, width, height) for p in paths[group]]
            for detector in lineup:
                detector.run(images[0])                      # warm-up: compilation, first allocations
            rounds = {d.name: [] for d in lineup}
            for _ in range(args.rounds):
                times = {d.name: [] for d in lineup}
                for image in images:
                    for detector in lineup:
                        times[detector.name].append(detector.run(image)[2])
                        bar.update(1)
                for name, t in times.items():
                    rounds[name].append(statistics.median(t))
            results.setdefault(group, {})[f"{width}x{height}"] = rounds
    bar.close()
    for lineup in detectors.values():
        for detector in lineup:
            getattr(detector, "close", lambda: None)()
    json.dump({"results": results, "versions": versions, "notes": notes,
               "images": {g: len(p) for g, p in paths.items()}}, sys.stdout)


def run_measure(threads, args):
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1", OMP_NUM_THREADS=str(threads),
               NUMBA_NUM_THREADS=str(threads))
    command = [sys.executable, os.path.abspath(__file__), "--measure", str(threads), "--images", str(args.images),
               "--rounds", str(args.rounds), "--sizes", args.sizes]
    done = subprocess.run(command, env=env, stdout=subprocess.PIPE, text=True)
    if done.returncode:
        raise SystemExit(f"bench_throughput.py: the run on {threads} threads failed")
    return json.loads(done.stdout)


def table(group, runs, sizes):
    """Markdown rows for one group: detector and threads, then ms (min-max), images/s and speed vs the baseline."""
    baseline, label = BASELINES[group]
    head = "| detector | threads | " + " | ".join(f"{s} ms | img/s | vs {label}" for s in sizes) + " |"
    rows = [head, "|---|---|" + "---|---|---|" * len(sizes)]
    for threads, run in runs:
        by_size = run["results"][group]
        for name in by_size[sizes[0]]:
            cells = []
            for size in sizes:
                rounds = by_size[size][name]
                ms, base = statistics.median(rounds), statistics.median(by_size[size][baseline])
                cells.append(f"{ms:.0f} ({min(rounds):.0f}-{max(rounds):.0f}) | {1000 / ms:.1f} | {base / ms:.2f}")
            rows.append(f"| {name} | {threads} | " + " | ".join(cells) + " |")
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=8, help="pictures per group (default 8)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--sizes", default=SIZES, help=f"comma-separated WIDTHxHEIGHT (default {SIZES})")
    parser.add_argument("--measure", type=int, metavar="THREADS", help=argparse.SUPPRESS)
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "BENCHMARKS.md"))
    args = parser.parse_args(argv)
    if not os.path.exists(NETS["net12"].data) or not os.path.exists(peers.ANIME_CASCADE):
        print("bench_throughput.py: ../shared/data is not here; nothing to measure")
        return 0
    if args.measure:
        measure(args)
        return 0
    runs = [(threads, run_measure(threads, args)) for threads in sorted({1, os.cpu_count()})]
    sizes = args.sizes.split(",")
    versions = {**runs[0][1]["versions"], "OpenCV": cv2.__version__}
    body = "\n".join([
        "## Throughput: every detector at three picture sizes (`benchmarks/bench_throughput.py`)", "",
        f"Machine: {machine_line()}. Versions: {', '.join(f'{k} {v}' for k, v in versions.items())}. "
        f"Median ms per image (min-max of {args.rounds} round medians) over {runs[0][1]['images']['faces']} held-out "
        f"WebFaces pictures and {runs[0][1]['images']['anime']} anime scenes, cut and resized to each size; "
        "minimum face 24 px; images/s = 1000 / median ms; \"vs\" is the speed against the Haar cascade "
        "(faces) or lbpcascade_animeface (anime) on the same thread count.", "",
        *table("faces", runs, sizes), "", *table("anime", runs, sizes), "",
        *(f"Skipped: {note}." for note in runs[0][1]["notes"])])
    write_section(args.out, "bench_throughput", body)
    print(body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
