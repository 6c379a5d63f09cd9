"""Detect faces: python detect.py IMAGE_OR_FOLDER... [--model face|anime|FILE] [--json] [--draw DIR] ..."""
import os

# The detectors' matrix products are small, and a multi-threaded BLAS spinning beside numba's parallel
# kernels made detection four times slower on 2 cores: BLAS gets one thread (set before NumPy loads it).
for _variable in ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import multiprocessing  # noqa: E402
import sys  # noqa: E402

import cv2  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

import nets  # noqa: E402
from nanonet.backend import BackendError  # noqa: E402
from nanonet.data.datasets import IMAGE_EXTENSIONS  # noqa: E402
from nanonet.data.image import ImageError, read_image  # noqa: E402
from nanonet.serialize import ModelFileError  # noqa: E402
from nets.detector import METHODS  # noqa: E402


def image_paths(inputs):
    """Files as given; folders as their image files, sorted. Missing paths are passed on to fail on read."""
    for path in inputs:
        if os.path.isdir(path):
            yield from (os.path.join(path, f) for f in sorted(os.listdir(path)) if f.lower().endswith(IMAGE_EXTENSIONS))
        else:
            yield path


def draw(image, boxes, scores, path):
    canvas = np.ascontiguousarray(image.copy())
    thickness = max(2, round(max(image.shape[:2]) / 300))
    for (x, y, w, h), score in zip(boxes.round().astype(int), scores):
        cv2.rectangle(canvas, (x, y), (x + w, y + h), (0, 255, 0), thickness)
        cv2.putText(canvas, f"{score:.2f}", (x, max(y - 4, 12)), cv2.FONT_HERSHEY_SIMPLEX, 0.4 * thickness,
                    (0, 255, 0), thickness // 2 + 1)
    Image.fromarray(canvas).save(path)


_detector = _draw_dir = None


def _start(model, gpu, options, draw_dir, threads=None):
    """Load the detector, in this process or in a worker; a worker runs its kernels on one thread."""
    global _detector, _draw_dir
    if threads:
        import numba
        numba.set_num_threads(threads)
        cv2.setNumThreads(threads)
    _detector, _draw_dir = nets.load(model, gpu=gpu, **options), draw_dir


def _detect(path):
    """(path, result dict or None, error line or None) for one image file."""
    try:
        image = read_image(path)
    except ImageError as e:
        return path, None, str(e)
    boxes, scores = _detector.detect(image)
    faces = [{"x": int(round(x)), "y": int(round(y)), "w": int(round(w)), "h": int(round(h)), "score": round(float(s), 4)}
             for (x, y, w, h), s in zip(boxes, scores)]
    if _draw_dir:
        draw(image, boxes, scores, os.path.join(_draw_dir, os.path.splitext(os.path.basename(path))[0] + ".png"))
    return path, {"image": path, "width": image.shape[1], "height": image.shape[0], "faces": faces}, None


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("images", nargs="+", metavar="IMAGE", help="image files or folders of them")
    parser.add_argument("--model", default="face",
                        help="face (the CNN cascade, the default), anime (FrgNet64-slim), or a model file")
    parser.add_argument("--gpu", type=int, default=-1, metavar="N", help="GPU number, -1 for the CPU (default)")
    parser.add_argument("--min-size", type=int, metavar="PX", help="smallest face side in pixels")
    parser.add_argument("--threshold", type=float, metavar="P", help="lowest face probability kept")
    parser.add_argument("--method", choices=METHODS, help="anime detector: cascade, fcn or windows")
    parser.add_argument("--json", action="store_true", help="one JSON object per image per line")
    parser.add_argument("--draw", metavar="DIR", help="save each image with its boxes drawn into DIR")
    parser.add_argument("--workers", type=int, default=1, metavar="N",
                        help="spread the images over N processes, each on one thread (default 1: this process)")
    args = parser.parse_args(argv)
    if args.workers < 1:
        parser.error("--workers must be at least 1")
    options = {k: v for k, v in (("min_size", args.min_size), ("threshold", args.threshold),
                                 ("method", args.method)) if v is not None}
    try:
        _start(args.model, args.gpu, options, args.draw)   # here too: a bad model or option fails at once
    except (ModelFileError, BackendError, ValueError) as e:
        print(f"detect.py: {e}", file=sys.stderr)
        return 2
    if args.draw:
        os.makedirs(args.draw, exist_ok=True)
    paths = list(image_paths(args.images))
    if args.workers > 1 and len(paths) > 1:
        pool = multiprocessing.get_context("spawn").Pool(
            min(args.workers, len(paths)), _start, (args.model, args.gpu, options, args.draw, 1))
        results = pool.imap(_detect, paths, chunksize=4)
    else:
        pool, results = None, map(_detect, paths)
    failures = 0
    try:
        for path, found, error in results:
            if error:
                print(f"detect.py: {error}", file=sys.stderr)
                failures += 1
            elif args.json:
                print(json.dumps(found), flush=True)
            else:
                faces = found["faces"]
                print(f"{path}: {len(faces)} face{'s' if len(faces) != 1 else ''}"
                      + "".join(f"\n  x {f['x']} y {f['y']} w {f['w']} h {f['h']} score {f['score']:.3f}" for f in faces))
    except BrokenPipeError:     # the reader has gone (detect.py ... | head): stop, as other command-line tools do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())   # else the exit's flush fails again
        return 141
    finally:
        if pool:
            pool.terminate()
    return 2 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
