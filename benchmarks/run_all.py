"""Rewrite BENCHMARKS.md from scratch on this machine: every benchmark script in turn, each in a fresh process.

    python benchmarks/run_all.py            # the full run: about an hour on 2 cores
    python benchmarks/run_all.py --quick    # a smoke test of every script on a few images (under 2 minutes),
                                            # written to benchmarks/out/BENCHMARKS-quick.md unless --out is given

Optional peers (dlib, MTCNN, BlazeFace) join the face tables when `bash benchmarks/install_peers.sh` has
made their environment; torch joins bench_layers when installed. Nothing is downloaded while measuring
(except, once, scikit-image's wheel for the LBP frontal cascade: see peers.py).
"""
import argparse
import importlib.metadata
import os
import platform
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from benchmarks.common import cpu_model, write_section  # noqa: E402
from nanonet.backend import cupy_available, device_name  # noqa: E402

# (script, arguments of the full run, arguments of --quick)
SCRIPTS = [
    ("bench_layers.py", [], ["--quick"]),
    ("bench_layers.py", ["--gpu", "0"], ["--quick", "--gpu", "0"]),     # only where CuPy sees a GPU
    ("bench_data.py", [], ["--batches", "2", "--rounds", "1"]),
    ("bench_anime.py", [], ["--scenes", "2", "--photos", "2"]),
    ("bench_face.py", [], ["--images", "4", "--timing", "2"]),
    ("bench_tilt.py", [], ["--images", "2", "--scenes", "2"]),
    ("bench_throughput.py", [], ["--images", "1", "--rounds", "1", "--sizes", "640x480"]),
    ("bench_batch.py", [], ["--images", "4", "--repeats", "1"]),
    ("bench_smile.py", [], ["--images", "10", "--crops", "30"]),
    ("bench_emotion.py", [], ["--quick"]),
    ("bench_keypoints.py", [], ["--quick"]),
    ("bench_dask.py", [], ["--images", "8", "--repeats", "1"]),
    ("bench_gpu.py", ["--gpu", "0"], ["--gpu", "0", "--rounds", "1"]),                # likewise
]
INTRO = """# Benchmarks

Every figure here is written by `python benchmarks/run_all.py`, which runs each script in `benchmarks/` in
turn; each script also reruns alone and rewrites its own section. Timings are medians over rounds in which
nanonet and its peers take turns in one process, so that they are compared under the same machine state;
absolute numbers vary between machines and runs, ratios much less.
"""
PACKAGES = ("numpy", "numba", "opencv-python-headless", "pillow", "cupy-cuda12x", "cupy-cuda13x", "torch")


def gpu_line():
    if not cupy_available():
        return "none (or no CuPy)"
    import cupy
    return ", ".join(device_name(n) for n in range(cupy.cuda.runtime.getDeviceCount()))


def versions():
    found = []
    for name in PACKAGES:
        try:
            found.append(f"{name} {importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            pass
    return f"Python {platform.python_version()}, " + ", ".join(found)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="every script on a few images: a smoke test")
    parser.add_argument("--only", metavar="SCRIPT[,SCRIPT]", help="run these scripts only, e.g. bench_face.py")
    parser.add_argument("--out", help="the file to rewrite (default BENCHMARKS.md; --quick: benchmarks/out/...)")
    args = parser.parse_args(argv)
    out = os.path.abspath(args.out or (os.path.join(HERE, "out", "BENCHMARKS-quick.md") if args.quick
                                       else os.path.join(HERE, "..", "BENCHMARKS.md")))
    os.makedirs(os.path.dirname(out), exist_ok=True)
    if not args.only:                      # a whole run starts the file afresh: no section outlives its script
        with open(out, "w") as f:
            f.write(INTRO)
    chosen = args.only.split(",") if args.only else [s for s, _, _ in SCRIPTS]
    unknown = set(chosen) - {s for s, _, _ in SCRIPTS}
    if unknown:
        parser.error(f"no benchmark script {', '.join(sorted(unknown))}")
    write_section(out, "machine", "\n".join([
        "## Machine", "",
        f"CPU: {cpu_model()}, {os.cpu_count()} cores. GPU: {gpu_line()}. {platform.platform()}.", "",
        f"{versions()}.", "",
        "Optional peers: `bash benchmarks/install_peers.sh`; each section below names the script that writes it."]))
    failed = []
    for script, full, quick in SCRIPTS:
        if script not in chosen or ("--gpu" in full and not cupy_available()):
            continue
        print(f"run_all.py: {script}", file=sys.stderr, flush=True)
        start = time.perf_counter()
        done = subprocess.run([sys.executable, os.path.join(HERE, script), *(quick if args.quick else full),
                               "--out", out], stdout=subprocess.DEVNULL)
        print(f"run_all.py: {script} {'failed' if done.returncode else 'done'} in "
              f"{time.perf_counter() - start:.0f} s", file=sys.stderr, flush=True)
        if done.returncode:
            failed.append(script)
    if failed:
        print(f"run_all.py: {', '.join(failed)} failed; the other sections of {out} are written", file=sys.stderr)
        return 1
    print(f"run_all.py: wrote {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
