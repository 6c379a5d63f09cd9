"""Detect faces: python detect.py IMAGE_OR_FOLDER... [--model face|anime|FILE] [--smile] [--emotion] [--json]
[--draw DIR] ..."""
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
from nets.expression import one_per_face, read_faces  # noqa: E402

MIN_READ = 24   # faces with a shorter side (px) are too small to read a smile or an emotion from


def image_paths(inputs):
    """Files as given; folders as their image files, sorted. Missing paths are passed on to fail on read."""
    for path in inputs:
        if os.path.isdir(path):
            yield from (os.path.join(path, f) for f in sorted(os.listdir(path)) if f.lower().endswith(IMAGE_EXTENSIONS))
        else:
            yield path


def draw(image, faces, path):
    """Save `image` with each face's box, score, and smile or emotion label drawn."""
    canvas = np.ascontiguousarray(image.copy())
    thickness = max(2, round(max(image.shape[:2]) / 300))
    for face in faces:
        x, y, w, h = face["x"], face["y"], face["w"], face["h"]
        cv2.rectangle(canvas, (x, y), (x + w, y + h), (0, 255, 0), thickness)
        words = [f"{face['score']:.2f}"] + [face[k]["label"] or "?" for k in ("smile", "emotion") if k in face]
        cv2.putText(canvas, " ".join(words), (x, max(y - 4, 12)), cv2.FONT_HERSHEY_SIMPLEX, 0.4 * thickness,
                    (0, 255, 0), thickness // 2 + 1)
    Image.fromarray(canvas).save(path)


_detector = _draw_dir = None
_readers, _vote = {}, True


def _start(model, gpu, options, draw_dir, readers=(), vote=True, threads=None):
    """Load the detector and the expression readers, in this process or in a worker; a worker runs its
    kernels on one thread."""
    global _detector, _draw_dir, _readers, _vote
    if threads:
        import numba
        numba.set_num_threads(threads)
        cv2.setNumThreads(threads)
    _detector, _draw_dir = nets.load(model, gpu=gpu, **options), draw_dir
    _readers, _vote = {name: nets.load(name, gpu=gpu) for name in readers}, vote


def _expressions(image, faces, boxes):
    """Add each reader's verdict ("smile", "emotion") to the faces (dicts) whose boxes are large enough."""
    readable = [k for k, (_, _, w, h) in enumerate(boxes) if min(w, h) >= MIN_READ]
    for name, reader in _readers.items():
        for face in faces:
            face[name] = {"label": None, "score": None, "note": f"too small to read (under {MIN_READ} px)"}
        if not readable:
            continue
        p = read_faces(reader.predict_proba, reader.input_size, image, boxes[readable], _vote)
        va = read_faces(reader.valence_arousal, reader.input_size, image, boxes[readable], _vote) \
            if name == "emotion" else None
        for row, k in enumerate(readable):
            best = int(p[row].argmax())
            faces[k][name] = {"label": reader.classes[best], "score": round(float(p[row, best]), 4)}
            if va is not None:
                faces[k][name].update(probabilities={c: round(float(q), 4) for c, q in zip(reader.classes, p[row])},
                                      valence=round(float(va[row, 0]), 3), arousal=round(float(va[row, 1]), 3))


def _detect(path):
    """(path, result dict or None, error line or None) for one image file."""
    try:
        image = read_image(path)
    except ImageError as e:
        return path, None, str(e)
    boxes, scores = _detector.detect(image)
    if _readers:    # a face with two boxes gets one reading
        keep = one_per_face(boxes, scores)
        boxes, scores = boxes[keep], scores[keep]
    faces = [{"x": int(round(x)), "y": int(round(y)), "w": int(round(w)), "h": int(round(h)), "score": round(float(s), 4)}
             for (x, y, w, h), s in zip(boxes, scores)]
    _expressions(image, faces, boxes)
    if _draw_dir:
        draw(image, faces, os.path.join(_draw_dir, os.path.splitext(os.path.basename(path))[0] + ".png"))
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
    parser.add_argument("--smile", action="store_true",
                        help="read each face's smile: \"smile\": {\"label\", \"score\"} in the JSON")
    parser.add_argument("--emotion", action="store_true",
                        help="read each face's emotion, valence and arousal: \"emotion\": {\"label\", \"score\", "
                             "\"probabilities\", \"valence\", \"arousal\"} in the JSON")
    parser.add_argument("--one-window", action="store_true",
                        help="read smiles and emotions from each face's box alone, rather than by the vote of 45 "
                             "windows about it (45 times faster)")
    parser.add_argument("--json", action="store_true", help="one JSON object per image per line")
    parser.add_argument("--draw", metavar="DIR", help="save each image with its boxes drawn into DIR")
    parser.add_argument("--workers", type=int, default=1, metavar="N",
                        help="spread the images over N processes, each on one thread (default 1: this process)")
    args = parser.parse_args(argv)
    if args.workers < 1:
        parser.error("--workers must be at least 1")
    options = {k: v for k, v in (("min_size", args.min_size), ("threshold", args.threshold),
                                 ("method", args.method)) if v is not None}
    readers = [name for name in ("smile", "emotion") if getattr(args, name)]
    try:    # here too: a bad model or option fails at once
        _start(args.model, args.gpu, options, args.draw, readers, not args.one_window)
    except (ModelFileError, BackendError, ValueError) as e:
        print(f"detect.py: {e}", file=sys.stderr)
        return 2
    if args.draw:
        os.makedirs(args.draw, exist_ok=True)
    paths = list(image_paths(args.images))
    if args.workers > 1 and len(paths) > 1:
        pool = multiprocessing.get_context("spawn").Pool(
            min(args.workers, len(paths)), _start,
            (args.model, args.gpu, options, args.draw, readers, not args.one_window, 1))
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
                      + "".join(f"\n  x {f['x']} y {f['y']} w {f['w']} h {f['h']} score {f['score']:.3f}"
                                + "".join(f" {k} {f[k]['label'] or '(too small)'}" for k in readers) for f in faces))
    except BrokenPipeError:     # the reader has gone (detect.py ... | head): stop, as other command-line tools do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())   # else the exit's flush fails again
        return 141
    finally:
        if pool:
            pool.terminate()
    return 2 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
