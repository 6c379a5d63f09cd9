"""Batch throughput: detect.py over a folder of held-out WebFaces images, end to end (start-up, decoding,
detection, JSON out), in one process and spread over processes with --workers; OpenCV's Haar cascade in the
same loop (decode, detect) for scale.

    python benchmarks/bench_batch.py [--images 300] [--repeats 2] [--out BENCHMARKS.md]

The folder holds links to the first N held-out images (their own sizes, up to 640 pixels a side). Each
setting runs `repeats` times; a figure is the median images/s with the min-max over the runs. The busy rows
run beside as many processes as there are cores, each spinning a loop (another job on the machine).
"""
import contextlib
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

import cv2

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks import peers  # noqa: E402
from benchmarks.common import machine_line, webfaces_validation, write_section  # noqa: E402
from nanonet.data.image import read_image  # noqa: E402
from nets.registry import NETS  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")


def detect_py(folder, workers, threads=None, extra=()):
    """Seconds for `detect.py folder --json --workers N [extra]`, its numba and BLAS threads set to `threads`
    (None: its own default)."""
    env = dict(os.environ, **{k: str(threads) for k in THREAD_VARIABLES}) if threads else \
        {k: v for k, v in os.environ.items() if k not in THREAD_VARIABLES}
    start = time.perf_counter()
    subprocess.run([sys.executable, os.path.join(ROOT, "detect.py"), folder, "--json", "--workers", str(workers), *extra],
                   env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


@contextlib.contextmanager
def busy(processes):
    """`processes` other processes spinning on the CPU while the block runs (each ends itself after 10 minutes)."""
    spin = "import time\nend = time.time() + 600\nwhile time.time() < end:\n    pass"
    others = [subprocess.Popen([sys.executable, "-c", spin]) for _ in range(processes)]
    try:
        yield
    finally:
        for process in others:
            process.kill()
            process.wait()


def busy_run(run, processes):
    def measured(folder):
        with busy(processes):
            return run(folder)
    return measured


def haar_loop(paths, threads):
    """Seconds for the Haar cascade to read and search every image in this process on `threads` threads."""
    cv2.setNumThreads(threads)
    start = time.perf_counter()
    haar = peers.haar()
    for path in paths:
        haar.detect(read_image(path))
    return time.perf_counter() - start


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "BENCHMARKS.md"))
    args = parser.parse_args(argv)
    if not os.path.exists(NETS["net12"].data):
        print("bench_batch.py: ../shared/data is not here; nothing to measure")
        return 0
    paths = [a.path for a in webfaces_validation()[:args.images]]
    cores = os.cpu_count()
    settings = [("`detect.py DIR` (its default: 1 thread)", lambda d: detect_py(d, 1)),
                (f"`detect.py DIR`, numba and BLAS on {cores} threads", lambda d: detect_py(d, 1, threads=cores)),
                (f"`detect.py DIR --workers {cores}`", lambda d: detect_py(d, cores)),
                ("busy machine: `detect.py DIR` (1 thread)", busy_run(lambda d: detect_py(d, 1), cores)),
                (f"busy machine: `detect.py DIR`, on {cores} threads",
                 busy_run(lambda d: detect_py(d, 1, threads=cores), cores)),
                (f"busy machine: `detect.py DIR --workers {cores}`", busy_run(lambda d: detect_py(d, cores), cores)),
                ("OpenCV Haar cascade, a loop on 1 thread", lambda d: haar_loop(paths, 1)),
                (f"OpenCV Haar cascade, a loop on {cores} threads", lambda d: haar_loop(paths, cores))]
    rates = {name: [] for name, _ in settings}
    with tempfile.TemporaryDirectory() as folder:
        for path in paths:    # links, so that detect.py sees a folder of exactly these images
            os.symlink(path, os.path.join(folder, os.path.basename(path)))
        for repeat in range(args.repeats):
            for name, run in settings:
                rates[name].append(len(paths) / run(folder))
                print(f"run {repeat + 1}/{args.repeats}: {name}: {rates[name][-1]:.1f} images/s", file=sys.stderr)
    rows = [f"| {name} | {statistics.median(r):.1f} ({min(r):.1f}-{max(r):.1f}) |" for name, r in rates.items()]
    body = "\n".join([
        "## Batch throughput: detect.py over a folder (`benchmarks/bench_batch.py`)", "",
        f"Machine: {machine_line()}. {len(paths)} held-out WebFaces images (JPEG, up to 640 px a side) in one "
        f"folder; images/s end to end, start-up and decoding included: median (min-max) over {args.repeats} runs. "
        "`--workers N` spreads the images over N processes of one thread each.", "",
        "| setting | images/s |", "|---|---|", *rows])
    write_section(args.out, "bench_batch", body)
    print(body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
