"""Batch detection on a local Dask cluster against detect.py's own --workers, and the scheduler's overhead.

    python benchmarks/bench_dask.py [--images 200] [--repeats 2] [--out BENCHMARKS.md]

- End to end: `detect.py DIR --json --workers N` and `detect.py DIR --dask local:N` (N the cores) over a folder
  of links to the first held-out WebFaces images, start-up included; the median images/s over the repeats.
- Steady state: the same images through a started cluster (each worker's detector loaded by a first round),
  and through a started pool of N processes, in this process; the median over the repeats.
- The scheduler's overhead: a round of 1000 tasks that do nothing on the started cluster, in ms per task.
"""
import argparse
import functools
import multiprocessing
import os
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.bench_batch import detect_py  # noqa: E402
from benchmarks.common import machine_line, webfaces_validation, write_section  # noqa: E402
from nets import batch  # noqa: E402
from nets.registry import NETS  # noqa: E402

SETTINGS = ("face", -1, {}, [], True, 200e6)


def nothing(k):
    return k


def rate(run, count, repeats):
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        rates.append(count / (time.perf_counter() - start))
    return statistics.median(rates)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "BENCHMARKS.md"))
    args = parser.parse_args(argv)
    if not os.path.exists(NETS["net12"].data):
        print("bench_dask.py: ../shared/data is not here; nothing to measure")
        return 0
    for variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "NUMBA_NUM_THREADS"):
        os.environ[variable] = "1"      # the workers this process starts inherit it, as detect.py's do
    paths = [a.path for a in webfaces_validation()[:args.images]]
    jobs = [(p, None) for p in paths]
    cores = os.cpu_count()
    with tempfile.TemporaryDirectory() as folder:
        for path in paths:
            os.symlink(path, os.path.join(folder, os.path.basename(path)))
        dask = ["--dask", f"local:{cores}"]
        ends = {f"`detect.py DIR --workers {cores}`": lambda: detect_py(folder, cores),
                f"`detect.py DIR --dask local:{cores}`": lambda: detect_py(folder, 1, extra=dask)}
        end_to_end = {name: rate(run, len(paths), args.repeats) for name, run in ends.items()}
    client = batch.dask_client(f"local:{cores}")
    pool = multiprocessing.get_context("spawn").Pool(cores, batch.start, (SETTINGS,))
    read = functools.partial(batch.picture, SETTINGS)
    try:
        list(batch.on_cluster(client, SETTINGS, jobs[:4 * cores]))       # every worker's detector loaded
        pool.map(read, jobs[:4 * cores], chunksize=1)
        steady = {"Dask": rate(lambda: list(batch.on_cluster(client, SETTINGS, jobs)), len(jobs), args.repeats),
                  "pool": rate(lambda: pool.map(read, jobs, chunksize=4), len(jobs), args.repeats)}
        tasks = 1000
        overhead = 1e3 / rate(lambda: client.gather(client.map(nothing, range(tasks), pure=False)), tasks,
                              args.repeats)
    finally:
        pool.terminate()
        client.close()
    body = "\n".join([
        "## Batch detection on a local Dask cluster (`benchmarks/bench_dask.py`)", "",
        f"Machine: {machine_line()}. {len(paths)} held-out WebFaces images (JPEG, up to 640 px a side), the face "
        f"cascade at its defaults, {cores} one-thread processes either way; images/s, median of {args.repeats} runs.",
        "", "| setting | end to end (start-up included) | started (steady state) |", "|---|---|---|",
        f"| `detect.py DIR --workers {cores}` (a multiprocessing pool) | "
        f"{end_to_end[f'`detect.py DIR --workers {cores}`']:.1f} | {steady['pool']:.1f} |",
        f"| `detect.py DIR --dask local:{cores}` | {end_to_end[f'`detect.py DIR --dask local:{cores}`']:.1f} | "
        f"{steady['Dask']:.1f} |", "",
        f"The scheduler's overhead: {overhead:.2f} ms a task (a round of {tasks} tasks that do nothing), "
        f"{overhead / (1e3 / steady['Dask']):.1%} of a picture's time on the cluster."])
    write_section(args.out, "bench_dask", body)
    print(body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
