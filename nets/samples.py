"""Training samples for face detectors, cut from annotated images: windows (x, y, w, h) and labels.

- positives: each face box with small jitter;
- negatives: random squares whose IoU with every annotated face is below 0.3;
- calibration: for Li et al.'s calibration nets, the face box displaced by each of 45 patterns
  (scale s, offsets x, y); pattern n is learnt from the window that correcting by n maps back to the face;
  displaced windows, beyond the patterns' reach, learn the pattern that corrects them best;
- hard negatives: the windows an earlier stage accepts that overlap no face;
- misframed negatives: windows that cut a face badly (moved, too large or too small), so that a detector
  scores a face highest where it is framed as in training.
Windows are cut and resized by extract_windows, as the detectors cut the windows they read, and kept in
memory (materialize), so that training never decodes.
"""
import concurrent.futures
import dataclasses
import itertools
import os

import numpy as np

from nanonet.data.datasets import ArrayDataset, held_out
from nanonet.data.image import ImageError, read_image
from nanonet.kernels.nms import iou
from nanonet.kernels.windows import extract_windows
from nets.occluders import occlude

CALIBRATION_SCALES = (0.83, 0.91, 1.0, 1.10, 1.21)
CALIBRATION_OFFSETS = (-0.17, 0.0, 0.17)
CALIBRATION_PATTERNS = np.array([(s, x, y) for s, x, y in itertools.product(
    CALIBRATION_SCALES, CALIBRATION_OFFSETS, CALIBRATION_OFFSETS)])  # (45, 3)
FACE, NONFACE = 0, 1
FACE_CLASSES = ["face", "nonface"]
CALIBRATION_CLASSES = [f"s{s:g}_x{x:+g}_y{y:+g}" for s, x, y in CALIBRATION_PATTERNS]


def calibration_window(box, pattern):
    """The window that pattern (s, x, y) corrects to `box`: (bx + x w, by + y h, s w, s h)."""
    s, dx, dy = pattern
    return np.array([box[0] + dx * box[2], box[1] + dy * box[3], s * box[2], s * box[3]])


def calibrate(windows, probabilities, threshold=1 / 45):
    """Correct windows (M, 4) by the probability-weighted mean of the patterns above `threshold` (the
    seeds' rule): (x - x_n w / s_n, y - y_n h / s_n, w / s_n, h / s_n) with the mean (s_n, x_n, y_n)."""
    p = np.where(probabilities > threshold, probabilities, 0.0)
    total = p.sum(axis=1, keepdims=True)
    p = np.where(total > 0, p / np.where(total > 0, total, 1), 1 / 45)
    s, dx, dy = (p @ CALIBRATION_PATTERNS).T
    x, y, w, h = np.asarray(windows, dtype=np.float64).T
    return np.stack([x - dx * w / s, y - dy * h / s, w / s, h / s], axis=1)


def jittered(box, rng, shift=0.05, scale=0.05):
    s = 1 + rng.uniform(-scale, scale)
    cx = box[0] + box[2] / 2 + rng.uniform(-shift, shift) * box[2]
    cy = box[1] + box[3] / 2 + rng.uniform(-shift, shift) * box[3]
    return np.array([cx - s * box[2] / 2, cy - s * box[3] / 2, s * box[2], s * box[3]])


def random_negatives(shape, boxes, rng, count, min_size, max_iou=0.3, tries=50):
    """Up to `count` random squares of side >= min_size inside an image of `shape`, overlapping no box
    by max_iou or more."""
    h, w = shape[:2]
    out = []
    if min(h, w) < min_size:
        return out
    for _ in range(count * tries):
        side = np.exp(rng.uniform(np.log(min_size), np.log(min(h, w))))
        window = np.array([rng.uniform(0, w - side), rng.uniform(0, h - side), side, side])
        if len(boxes) == 0 or iou(window, boxes).max() < max_iou:
            out.append(window)
            if len(out) == count:
                break
    return out


def face_samples(images, rng, jitters=2, jitter=0.05, negatives_per_image=6, min_size=24):
    """(image index, window, label) triples for face / non-face classification: each face `jitters` times,
    moved and rescaled by up to `jitter` of its side."""
    samples = []
    for i, a in enumerate(images):
        for box in a.boxes:
            samples += [(i, jittered(box, rng, jitter, jitter), FACE) for _ in range(jitters)]
        shape = _shape(a.path)
        samples += [(i, w, NONFACE) for w in random_negatives(shape, a.boxes, rng, negatives_per_image, min_size)]
    return samples


def calibration_samples(images, rng=None, per_face=len(CALIBRATION_PATTERNS)):
    """(image index, window, pattern) triples: every face under `per_face` distinct patterns, drawn at
    random (all 45 by default)."""
    every = np.arange(len(CALIBRATION_PATTERNS))
    return [(i, calibration_window(box, CALIBRATION_PATTERNS[n]), n) for i, a in enumerate(images)
            for box in a.boxes
            for n in (every if per_face == len(every) else np.sort(rng.choice(every, per_face, replace=False)))]


def displaced_calibration_samples(images, rng, per_face, max_scale=1.6, max_shift=0.25):
    """(image index, window, pattern) triples: every face under `per_face` windows rescaled about its centre
    by a factor drawn log-uniformly from 1 / max_scale to max_scale and moved by up to max_shift of its side,
    each labelled with the pattern whose correction frames the face best. Beyond the patterns' reach that
    correction still moves the window towards the face: a calibration net that learns these moves a window
    of 0.6x or 1.5x the face as far as a pattern goes, rather than leaving it where it is."""
    samples = []
    for i, a in enumerate(images):
        for box in a.boxes:
            for _ in range(per_face):
                s = np.exp(rng.uniform(-np.log(max_scale), np.log(max_scale)))
                dx, dy = (1 - s) / 2 + rng.uniform(-max_shift, max_shift, 2)
                window = calibration_window(box, (s, dx, dy))
                corrected = calibrate(np.repeat(window[None], len(CALIBRATION_PATTERNS), 0),
                                      np.eye(len(CALIBRATION_PATTERNS)))
                samples.append((i, window, int(np.argmax(iou(box, corrected)))))
    return samples


def hard_negatives(scenes, propose, size, max_iou=0.3):
    """uint8 (M, size, size, 3) crops of the windows that propose(image) -> (K, 4) returns and that overlap
    no annotated face by max_iou or more: what an earlier stage wrongly lets through.

    scenes: iterable of (image uint8 (H, W, 3), boxes (F, 4)); for Annotated images on disk pass
    ((read_image(a.path), a.boxes) for a in images).
    """
    crops = [np.zeros((0, size, size, 3), np.uint8)]
    for image, boxes in scenes:
        windows = np.asarray(propose(image), dtype=np.float64).reshape(-1, 4)
        wrong = [w for w in windows if len(boxes) == 0 or iou(w, boxes).max() < max_iou]
        if wrong:
            crops.append(extract_windows(image, np.array(wrong), size))
    return np.concatenate(crops)


def misframed(box, shape, boxes, rng, count, iou_range=(0.1, 0.4), tries=50):
    """Up to `count` windows inside an image of `shape`, each `box` moved by up to 0.6 of its side and
    rescaled by 1/2 to 2 until its IoU with `box` falls in iou_range, and with every one of `boxes` (the
    image's faces, `box` among them) stays below iou_range's upper end."""
    h, w = shape[:2]
    out = []
    for _ in range(count * tries):
        side = box[2] * np.exp(rng.uniform(np.log(0.5), np.log(2)))
        x = box[0] + box[2] / 2 + rng.uniform(-0.6, 0.6) * box[2] - side / 2
        y = box[1] + box[3] / 2 + rng.uniform(-0.6, 0.6) * box[3] - side / 2
        window = np.array([x, y, side, side])
        if (x >= 0 and y >= 0 and x + side <= w and y + side <= h and iou(window, box)[0] >= iou_range[0]
                and iou(window, boxes).max() < iou_range[1]):
            out.append(window)
            if len(out) == count:
                break
    return out


def misframed_negatives(scenes, rng, per_face, size):
    """uint8 (M, size, size, 3) crops of misframed() windows, `per_face` about each face of scenes:
    iterable of (image uint8 (H, W, 3), boxes (F, 4))."""
    crops = [np.zeros((0, size, size, 3), np.uint8)]
    for image, boxes in scenes:
        windows = [win for box in boxes for win in misframed(box, image.shape, boxes, rng, per_face)]
        if windows:
            crops.append(extract_windows(image, np.array(windows), size))
    return np.concatenate(crops)


def split_images(images, fraction):
    """(train, val) lists of Annotated: an image is held out when a hash of its file name falls below
    `fraction`, so every stage of a cascade holds out the same images."""
    val = held_out([os.path.basename(a.path) for a in images], fraction)
    return [a for a, v in zip(images, val) if not v], [a for a, v in zip(images, val) if v]


def pixels(annotated):
    """uint8 (H, W, 3): an Annotated's image, its faces painted over where it is an occluded copy."""
    image = read_image(annotated.path)
    if annotated.occluders is None:
        return image
    return occlude(image, annotated.keypoints, np.random.default_rng(annotated.occluders))


def occluded_copies(images, fraction, seed):
    """Copies of a `fraction` of `images` (those with face points), drawn at random by `seed`, whose faces an
    occluder (nets.occluders) covers in part: the same faces as the originals, framed alike."""
    with_points = [a for a in images if a.keypoints is not None and len(a.keypoints)]
    rng = np.random.default_rng([seed, 5])
    chosen = np.flatnonzero(rng.random(len(with_points)) < fraction)
    return [dataclasses.replace(with_points[k], occluders=int(rng.integers(2**31))) for k in chosen]


def materialize(images, samples, size, classes, workers=2, load=pixels):
    """Cut every sample's window at size x size into an ArrayDataset, decoding each image once:
    load(images[i]) -> uint8 (H, W, 3) (default: an Annotated's pixels)."""
    by_image = {}
    for k, (i, window, _) in enumerate(samples):
        by_image.setdefault(i, []).append((k, window))
    crops = np.zeros((len(samples), size, size, 3), np.uint8)

    def cut(i):
        indices, windows = zip(*by_image[i])
        crops[list(indices)] = extract_windows(load(images[i]), np.array(windows, np.float64), size)

    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        list(pool.map(cut, by_image))
    return ArrayDataset(crops, np.array([label for _, _, label in samples], dtype=np.int64), classes)


def _shape(path):
    """(height, width) of an image file, from its header."""
    from PIL import Image, UnidentifiedImageError
    try:
        with Image.open(path) as im:
            return im.size[::-1]
    except (UnidentifiedImageError, OSError) as e:
        raise ImageError(f"{path}: not an image file, or unreadable ({e})")
