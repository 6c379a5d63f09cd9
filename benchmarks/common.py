"""Helpers shared by the benchmarks: timing, machine description, and rewriting one section of BENCHMARKS.md."""
import os
import platform
import re
import statistics
import time

from nets.annotations import read_webfaces
from nets.samples import split_images
from nets.registry import NETS


def median_time(fn, repeats, sync=lambda: None):
    """Median wall time of fn() over `repeats` calls, after one warm-up call."""
    fn()
    sync()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - start)
    return statistics.median(times), min(times), max(times)


def webfaces_validation(fraction=0.1):
    """The WebFaces images train.py holds out (a tenth, by a hash of the file name): no face net trained on them."""
    return split_images(read_webfaces(NETS["net12"].data), fraction)[1]


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_line():
    return f"{cpu_model()}, {os.cpu_count()} cores, Python {platform.python_version()}"


def write_section(path, name, body):
    """Replace the text between <!-- name:start --> and <!-- name:end --> in `path`, or append it."""
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    block = f"{start}\n{body.rstrip()}\n{end}"
    text = open(path).read() if os.path.exists(path) else "# Benchmarks\n"
    pattern = re.compile(re.escape(start) + ".*?" + re.escape(end), re.S)
    text = pattern.sub(lambda _: block, text) if pattern.search(text) else text.rstrip() + "\n\n" + block + "\n"
    with open(path, "w") as f:
        f.write(text)
