"""The shipped smile net on GENKI-4K's held-out crops, one window against the 45-window vote, and OpenCV's
smile cascade beside it.

    python benchmarks/bench_smile.py [--images N] [--crops N] [--out BENCHMARKS.md]

- Validation accuracy: the crops train.py holds out of ../shared/data/smile-genki4k-64.zip (a tenth, by a hash
  of the file name), as they are.
- The detector's framing errors: the face cascade at its defaults on the held-out WebFaces images; for each
  annotated face it finds (IoU >= 0.5), the box's offset (as a share of the annotated box's side) and its
  side's ratio. Each held-out crop is then re-cut about its own face with one of those errors drawn at random
  (a fixed seed; DRAWS times, each a reading of its own), its edges repeated where the window leaves the crop,
  and read from that window alone or by the vote of the 45 windows about it (nets.expression.read_faces).
- Framing: the face cascade's box on each crop (padded by its own width, edges repeated), as a share of the
  crop: what `nets.expression` relies on in reading a detected face's box as its crop.
- The peer: OpenCV's haarcascade_smile.xml on the lower half of each crop, enlarged `PEER_SCALE` times; a
  smile when it finds one. Its minNeighbors is the one of 1-100 that reads a third of the training crops best.
- Time: median ms per face on one thread, the crop given.
"""
import argparse
import os
import sys

if __name__ == "__main__":
    for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
        os.environ[_variable] = "1"

import cv2  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import nets  # noqa: E402
from benchmarks.common import machine_line, median_time, webfaces_validation, write_section  # noqa: E402
from nanonet.data.datasets import open_dataset, split_by_name  # noqa: E402
from nanonet.kernels.nms import iou  # noqa: E402
from nanonet.data.image import read_image  # noqa: E402
from nanonet.kernels.windows import extract_windows  # noqa: E402
from nets.expression import read_faces  # noqa: E402
from nets.registry import NETS  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
PEER_SCALE = 2
SEED = 0
DRAWS = 5      # misframed windows per crop, each with a framing error of its own


def framing_errors(detector, images):
    """((K, 3), K crops): (dx, dy, scale) of each annotated face that `detector` finds at IoU >= 0.5 (its best
    box's offset from the face's box as a share of that box's side, and its side over the face's), and the
    uint8 crop of that box, as the detector found it."""
    errors, crops = [], []
    for annotated in images:
        image = read_image(annotated.path)
        boxes, _ = detector.detect(image)
        for face in annotated.boxes:
            if not len(boxes):
                break
            overlap = iou(face, boxes)
            if overlap.max() >= 0.5:
                box = boxes[overlap.argmax()]
                errors.append(((box[0] - face[0]) / face[2], (box[1] - face[1]) / face[3], box[2] / face[2]))
                x0, y0 = max(int(round(box[0])), 0), max(int(round(box[1])), 0)
                crops.append(image[y0:int(round(box[1] + box[3])), x0:int(round(box[0] + box[2]))])
    return np.array(errors).reshape(-1, 3), crops


def misframed(side, errors, count, rng):
    """`count` windows (x, y, w, h) about a face box (0, 0, side, side), each moved by a framing error drawn
    from `errors`."""
    dx, dy, scale = errors[rng.integers(len(errors), size=count)].T
    return np.stack([dx * side, dy * side, scale * side, scale * side], axis=1)


def detector_framing(detector, crops):
    """(dx, dy, scale) of the face cascade's best box on each crop (padded by its side, edges repeated) as a
    share of the crop, for the crops in which it finds a face."""
    out = []
    for crop in crops:
        side = crop.shape[0]
        boxes, scores = detector.detect(cv2.copyMakeBorder(crop, side, side, side, side, cv2.BORDER_REPLICATE))
        if len(boxes):
            x, y, w, h = boxes[scores.argmax()]
            out.append(((x - side) / w, (y - side) / h, side / w))
    return np.array(out).reshape(-1, 3)


class SmileCascade:
    """OpenCV's smile cascade on the lower half of a face crop: 1 (smile) when it finds a smile, else 0."""

    def __init__(self, min_neighbors=20):
        self.cascade = cv2.CascadeClassifier(os.path.join(cv2.data.haarcascades, "haarcascade_smile.xml"))
        self.min_neighbors = min_neighbors

    @staticmethod
    def mouth(crop):
        """The lower half of the crop, grey, enlarged PEER_SCALE times."""
        grey = cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY) if crop.ndim == 3 else crop
        return cv2.resize(grey[grey.shape[0] // 2:], None, fx=PEER_SCALE, fy=PEER_SCALE,
                          interpolation=cv2.INTER_LINEAR)

    def __call__(self, crop):
        found = self.cascade.detectMultiScale(self.mouth(crop), scaleFactor=1.1, minNeighbors=self.min_neighbors)
        return int(len(found) > 0)


def tuned_peer(crops, is_smile, settings=(1, 2, 3, 5, 8, 12, 16, 20, 25, 30, 40, 50, 60, 80, 100)):
    """The SmileCascade whose minNeighbors (of `settings`) reads `crops` best: (cascade, its accuracy there)."""
    accuracy = {n: float(np.mean([SmileCascade(n)(c) for c in crops] == is_smile)) for n in settings}
    best = max(accuracy, key=accuracy.get)
    return SmileCascade(best), accuracy[best]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--images", type=int, help="use only the first N held-out WebFaces images (a smoke test)")
    p.add_argument("--crops", type=int, help="use only the first N held-out GENKI-4K crops (a smoke test)")
    p.add_argument("--out", default=os.path.join(os.path.dirname(HERE), "BENCHMARKS.md"))
    args = p.parse_args(argv)
    reader, detector = nets.load("smile"), nets.load("face")
    smile = reader.classes.index("smile")
    train, val = split_by_name(open_dataset(NETS["smile"].data), 0.1)
    count = min(args.crops or len(val), len(val))
    crops = [val.image(i) for i in range(count)]
    truth = val.labels[:count]
    is_smile = truth == smile
    size = reader.input_size

    errors, found = framing_errors(detector, webfaces_validation()[:args.images])
    rng = np.random.default_rng(SEED)
    windows = [misframed(c.shape[0], errors, DRAWS, rng) for c in crops]
    guess_clean = reader.predict_proba(crops).argmax(axis=1)
    one = np.stack([read_faces(reader.predict_proba, size, c, w, vote=False)
                    for c, w in zip(crops, windows)]).argmax(axis=2)
    vote = np.stack([read_faces(reader.predict_proba, size, c, w) for c, w in zip(crops, windows)]).argmax(axis=2)
    vote_clean = np.concatenate([read_faces(reader.predict_proba, size, c, [(0, 0, c.shape[1], c.shape[0])])
                                 for c in crops]).argmax(axis=1)
    cut = [extract_windows(c, w, c.shape[0]) for c, w in zip(crops, windows)]
    framing = detector_framing(detector, crops)

    every = 3 if not args.crops else max(3, len(train) // args.crops)
    training_crops = [train.image(i) for i in range(0, len(train), every)]
    peer, peer_train = tuned_peer(training_crops, train.labels[::every] == smile)
    peer_clean = np.array([peer(c) for c in crops]) == is_smile
    peer_cut = np.array([[peer(window) for window in c] for c in cut]) == is_smile[:, None]

    face = crops[0]
    box = np.array([[0, 0, face.shape[1], face.shape[0]]], np.float64)
    ms_one = median_time(lambda: reader.predict_proba([face]), 50)[0] * 1e3
    ms_vote = median_time(lambda: read_faces(reader.predict_proba, size, face, box), 10)[0] * 1e3
    ms_peer = median_time(lambda: peer(face), 50)[0] * 1e3
    found = found[:100]
    side = np.median([min(c.shape[:2]) for c in found])
    ms_found = [median_time(lambda: [read(c) for c in found], 3)[0] * 1e3 / len(found)
                for read in (lambda c: reader.predict_proba([c]), peer)]

    acc = lambda guess: float(np.mean(guess == (truth if guess.ndim == 1 else truth[:, None])))  # noqa: E731
    q = lambda column: np.percentile(errors[:, column], [10, 50, 90])  # noqa: E731
    f = np.median(framing, axis=0)
    lines = ["## Smiles on GENKI-4K (`benchmarks/bench_smile.py`)", "",
             f"Machine: {machine_line()}. {len(crops)} held-out GENKI-4K crops (64x64 grey), one thread.", "",
             f"The face cascade's framing errors on {len(errors)} held-out WebFaces faces it finds (10th, 50th, "
             f"90th percentiles): x offset {q(0)[0]:+.3f}, {q(0)[1]:+.3f}, {q(0)[2]:+.3f}; y offset "
             f"{q(1)[0]:+.3f}, {q(1)[1]:+.3f}, {q(1)[2]:+.3f} (of the side); side ratio {q(2)[0]:.3f}, "
             f"{q(2)[1]:.3f}, {q(2)[2]:.3f}. On {len(framing)} of the crops (padded) it finds a face: the crop "
             f"lies at {f[0]:+.3f}, {f[1]:+.3f} of its box, {f[2]:.3f} times its side, at the median.", "",
             f"Accuracy, and median ms per face on one thread: on a 64x64 crop, and on the {len(found)} WebFaces "
             f"faces found first (median side {side:.0f} px), each as the detector's box cut it:", "",
             f"| reader | crops as they are | crops re-cut with the detector's framing errors ({DRAWS} each) | "
             "ms / 64 px face | "
             "ms / detected face |",
             "|---|---|---|---|---|",
             f"| nanonet smile, one window | {acc(guess_clean):.3f} | {acc(one):.3f} | {ms_one:.1f} | "
             f"{ms_found[0]:.1f} |",
             f"| nanonet smile, 45-window vote | {acc(vote_clean):.3f} | {acc(vote):.3f} | {ms_vote:.1f} | |",
             f"| OpenCV haarcascade_smile (lower half x{PEER_SCALE}, minNeighbors {peer.min_neighbors}: "
             f"{peer_train:.3f} on a third of the training crops) | {np.mean(peer_clean):.3f} | "
             f"{np.mean(peer_cut):.3f} | {ms_peer:.2f} | {ms_found[1]:.2f} |"]
    body = "\n".join(lines)
    print(body)
    write_section(args.out, "bench_smile", body)


if __name__ == "__main__":
    main()
