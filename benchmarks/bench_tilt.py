"""Both detectors on tilted heads: pictures turned whole by 0 to 60 degrees, searched as they are and with
`tilts` (detect.py --tilt DEG: the picture also turned DEG degrees each way).

    python benchmarks/bench_tilt.py [--images N] [--scenes N] [--out BENCHMARKS.md]

- Faces: the held-out WebFaces images; the faces that the annotations miss (bench_face's list) count neither
  way. Anime: bench_anime's composed scenes of held-out crops.
- Each picture is turned about its centre onto a canvas that holds all of it (nets.stages.turned); each face's
  box turns about the picture's centre with its side kept, as the detector turns back what it finds in a
  turned view. A face is found at IoU >= 0.5.
- Time: median ms per picture on one thread, against the search without tilts on the same pictures.
"""
import argparse
import itertools
import os
import sys
import time

if __name__ == "__main__":
    for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
        os.environ[_variable] = "1"

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import nets  # noqa: E402
from benchmarks.bench_anime import held_out_crops, scenes_of  # noqa: E402
from benchmarks.bench_face import ignored_in, missed_faces  # noqa: E402
from benchmarks.common import machine_line, webfaces_validation, write_section  # noqa: E402
from nanonet.data.image import read_image  # noqa: E402
from nets.evaluation import Tally  # noqa: E402
from nets.registry import NETS  # noqa: E402
from nets.stages import centres_moved, turned  # noqa: E402

TURNS = (0, 20, 40, 60)     # degrees the pictures are turned by
TILTS = (30, 45)            # detect.py --tilt settings compared with none


def webfaces_pictures(count):
    """(image, face boxes, boxes to ignore) of the first `count` held-out WebFaces images, one by one."""
    missed = missed_faces()
    for a in webfaces_validation()[:count]:
        yield read_image(a.path), a.boxes, ignored_in(a, missed)


def anime_pictures(count):
    """(scene, face boxes, nothing to ignore) of bench_anime's first `count` composed scenes."""
    for image, faces in itertools.islice(scenes_of(held_out_crops()[1], count), count):
        yield image, faces, np.zeros((0, 4))


def measure(detectors, pictures, degrees):
    """{name: (Tally, per-picture seconds)} of each detector on `pictures` turned by `degrees`, taking turns."""
    results = {name: (Tally(), []) for name in detectors}
    for image, faces, ignore in pictures:
        if degrees:
            image, matrix = turned(image, degrees)
            faces, ignore = centres_moved(faces, matrix), centres_moved(ignore, matrix)
        for name, detector in detectors.items():
            start = time.perf_counter()
            boxes, scores = detector.detect(image)
            results[name][1].append(time.perf_counter() - start)
            results[name][0].add(boxes, scores, faces, ignore=ignore)
    return results


def table(model, pictures):
    """The markdown rows of `model` ("face" or "anime") searched as it is and with each of TILTS, on the
    pictures that pictures() yields, turned by each of TURNS; and the median ms of the search as it is."""
    detectors = {"as it is": nets.load(model)}
    detectors.update({f"--tilt {t}": nets.load(model, tilts=(-t, t)) for t in TILTS})
    cells, times = {name: [] for name in detectors}, {name: [] for name in detectors}
    for degrees in TURNS:
        for name, (tally, seconds) in measure(detectors, pictures(), degrees).items():
            cells[name] += [f"{value:.3f}" for value in tally.at()]
            times[name] += seconds
        print(f"{model} turned {degrees}: " + ", ".join(f"{n} {' / '.join(c[-2:])}" for n, c in cells.items()),
              flush=True)
    plain = np.median(times["as it is"])
    rows = ["| search | " + " | ".join(f"turned {d}°: recall | false positives / picture" for d in TURNS)
            + " | time |", "|---|" + "---|---|" * len(TURNS) + "---|"]
    rows += [f"| {name} | " + " | ".join(cells[name]) + f" | {np.median(times[name]) / plain:.2f}x |"
             for name in detectors]
    return "\n".join(rows), 1000 * plain


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=200, help="the first N held-out WebFaces images (default 200)")
    parser.add_argument("--scenes", type=int, default=200, help="the first N of bench_anime's scenes (default 200)")
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "BENCHMARKS.md"))
    args = parser.parse_args(argv)
    if not all(os.path.exists(NETS[net].data) for net in ("net12", "frg64s")):
        print("bench_tilt.py: ../shared/data is not here; nothing to measure")
        return 0
    faces, face_ms = table("face", lambda: webfaces_pictures(args.images))
    anime, anime_ms = table("anime", lambda: anime_pictures(args.scenes))
    body = (f"## Tilted heads: both detectors on turned pictures (`benchmarks/bench_tilt.py`)\n\n"
            f"Machine: {machine_line()}; one thread. Each picture turned whole by 0 to 60 degrees; defaults "
            f"otherwise. `--tilt DEG` also searches the picture turned DEG degrees each way and turns back what it "
            f"finds there. A turned face's box turns about the picture's centre, upright, its side kept: a box "
            f"found on a face turned far can miss it by IoU and count as a false positive. Time: the median over "
            f"every picture and turn, against the search as it is.\n\n"
            f"The face cascade, on the first {args.images} held-out WebFaces images (the search as it is: "
            f"{face_ms:.0f} ms):\n\n{faces}\n\n"
            f"The anime detector, on the first {args.scenes} of bench_anime's composed scenes ({anime_ms:.0f} ms):"
            f"\n\n{anime}\n")
    write_section(args.out, "bench_tilt", body)
    print(body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
