"""Detection as a list of stages: each acts on one record of windows and hands it to the next, and
Detector.detect runs them in order, top to bottom, as facenet-pytorch's MTCNN reads. Both detectors are such
lists (nets.detector.SlidingWindowDetector, nets.cascade_detector.CascadeDetector), and mining with the first
K nets of one is its list cut before the (K+1)-th net that reads windows (first_nets).

A stage is a callable (picture, windows) -> windows:
- Scan:      a net scans the image pyramid fully convolutionally: the windows it scores at threshold or more;
- Grid:      every window of the pyramid's grid, unscored (for a classifier read crop by crop);
- Judge:     a net reads each window's crop, and optionally more views of it (the mirror image, the window
             as a calibration net moves it); those scoring at threshold or more go on;
- Calibrate: a calibration net (Li et al.'s 45 patterns) moves and rescales each window onto its face;
- Suppress:  non-maximum suppression, optionally replacing each box kept by the score-weighted mean of those
             overlapping it (box voting, or merging windows that converged on one face);
- Supported: only windows that enough others overlap (OpenCV's cascades' min_neighbors).
Every crop, whichever stage reads it, is cut by Picture.cut.
"""
import os
from dataclasses import dataclass

import cv2
import numpy as np

from nanonet.data.image import read_image
from nanonet.kernels.nms import iou, neighbours, nms
from nets.pyramid import joined, octaves, pyramid_windows, scan_pyramid, window_sizes
from nets.samples import calibrate


@dataclass
class Windows:
    """The record the stages pass on: float (K, 4) boxes as x, y, w, h in the image's pixels, (K,) scores,
    and the uint8 (K, s, s, 3) crops that the last stage read of those boxes, or None."""
    boxes: np.ndarray
    scores: np.ndarray
    crops: np.ndarray = None

    def take(self, index):
        """The windows at `index` (indices or a boolean mask), with their crops."""
        return Windows(self.boxes[index], self.scores[index], None if self.crops is None else self.crops[index])

    def crops_of(self, picture, side):
        """The windows' crops at `side`: those the last stage read where they have that side, else cut anew."""
        if self.crops is not None and self.crops.shape[1] == side:
            return self.crops
        return picture.cut(self.boxes, side)


NO_WINDOWS = Windows(np.zeros((0, 4)), np.zeros(0))


def as_rgb(image):
    """uint8 grey (H, W) or (H, W, 1), RGB, or RGBA -> (H, W, 3)."""
    image = np.asarray(image)
    if image.dtype != np.uint8 or image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] not in (1, 3, 4)):
        raise ValueError(f"expected a uint8 image (H, W), (H, W, 1), (H, W, 3) or (H, W, 4), "
                         f"got {image.dtype} {image.shape}")
    if image.ndim == 2:
        image = image[:, :, None]
    if image.shape[2] == 1:
        return np.repeat(image, 3, axis=2)
    return np.ascontiguousarray(image[:, :, :3])


class Picture:
    """The image searched, and the copies of it that crops are cut from: the image, then halved in turn while
    both sides stay at least `smallest` (None: the image alone)."""

    def __init__(self, image, smallest=None):
        self.image = image
        self.levels = octaves(image, smallest) if smallest else [image]

    def cut(self, boxes, side):
        """uint8 (K, side, side, 3) crops of boxes (K, 4), each from the smallest level on which it still
        spans `side` pixels (area averaging: as the nets' training crops were resized)."""
        return pyramid_windows(self.levels, boxes, side)


class Scan:
    """Windows of sides min_size, min_size * scale_step, ... that `net` scores at `threshold` or more, read
    fully convolutionally on the image pyramid (every `every`-th window of the net's grid; every one for
    windows of at least `fine_from` times the image's short side), with their crops cut from the pyramid's
    levels where `keep_crops`."""
    reads = True

    def __init__(self, net, min_size, scale_step, threshold, every=1, keep_crops=False, fine_from=None):
        self.net, self.min_size, self.scale_step = net, min_size, scale_step
        self.threshold, self.every, self.keep_crops, self.fine_from = threshold, every, keep_crops, fine_from

    def __call__(self, picture, windows):
        image = picture.image
        sizes = window_sizes(*image.shape[:2], self.min_size, self.scale_step)
        fine = np.inf if self.fine_from is None else self.fine_from * min(image.shape[:2])
        every = [1 if size >= fine else self.every for size in sizes]
        found = scan_pyramid(self.net, image, sizes, self.threshold, every, self.keep_crops)
        if not self.keep_crops:
            return Windows(*joined(found, NO_WINDOWS.boxes, NO_WINDOWS.scores))
        side = self.net.window
        return Windows(*joined(found, NO_WINDOWS.boxes, NO_WINDOWS.scores, np.zeros((0, side, side, 3), np.uint8)))


class Grid:
    """Every window of `net`'s grid at the sides of Scan, unscored: for a net that reads them as crops."""

    def __init__(self, net, min_size, scale_step):
        self.net, self.min_size, self.scale_step = net, min_size, scale_step

    def __call__(self, picture, windows):
        height, width = picture.image.shape[:2]
        boxes = [self.net.grid(height, width, size)
                 for size in window_sizes(height, width, self.min_size, self.scale_step)]
        boxes = np.concatenate(boxes or [NO_WINDOWS.boxes])
        return Windows(boxes, np.zeros(len(boxes)))


class Judge:
    """The windows whose score by `net` reaches `threshold`. A window's score is the net's face probability
    for its crop, or with more views the mean over them: its `mirror` image, and with `moved_by` (a
    calibration net) the window as that net moves it (and its mirror image, with `mirror`); the windows kept
    are then the moved ones, each moved by the mean of the corrections read from its crop and its mirror
    image with `mirror_moves`. A later view reads only the windows whose mean over the views before reaches
    `floor` (Classifier.mean_probability)."""
    reads = True

    def __init__(self, net, threshold, mirror=False, moved_by=None, floor=0.0, mirror_moves=False):
        self.net, self.threshold, self.mirror, self.moved_by, self.floor = net, threshold, mirror, moved_by, floor
        self.mirror_moves = mirror_moves

    def __call__(self, picture, windows):
        crops = windows.crops_of(picture, self.net.window)
        views = [lambda i: crops[i], lambda i: crops[i, :, ::-1]][:1 + self.mirror]
        if len(views) == 1 and not self.moved_by:
            scores = self.net.face_probability(crops)
        else:
            moved = Moved(picture, windows.boxes, crops, self.moved_by, self.mirror_moves) if self.moved_by else None
            if moved:     # last: the calibration net moves only the windows that the crop leaves in play
                views += [moved.crops, moved.mirrored][:1 + self.mirror]
            scores = self.net.mean_probability(views, len(crops), self.threshold, self.floor)
        passed = np.flatnonzero(scores >= self.threshold)
        if self.moved_by:
            return Windows(moved.boxes[passed], scores[passed])
        return Windows(windows.boxes[passed], scores[passed], crops[passed])


class Moved:
    """Windows as a calibration net moves them, computed for the indices asked of crops(i) and kept: a view
    of Judge, which asks only for the windows still in play."""

    def __init__(self, picture, boxes, crops, calibration, mirror):
        self.picture, self.source, self.source_crops = picture, boxes, crops
        self.calibration, self.mirror = calibration, mirror
        self.boxes, self.moved_crops = boxes.copy(), np.empty_like(crops)

    def crops(self, i):
        self.boxes[i] = calibrated(self.calibration, self.source[i], self.source_crops[i], self.mirror)
        self.moved_crops[i] = self.picture.cut(self.boxes[i], self.moved_crops.shape[1])
        return self.moved_crops[i]

    def mirrored(self, i):
        """The mirror images of crops(i), read after it (of the same windows or fewer)."""
        return self.moved_crops[i, :, ::-1]


class Calibrate:
    """Each window moved and rescaled by the calibration net `net` from its crop (with `mirror`, the mean of
    the corrections read from the crop and from its mirror image, mirrored back)."""

    def __init__(self, net, mirror):
        self.net, self.mirror = net, mirror

    def __call__(self, picture, windows):
        crops = windows.crops_of(picture, self.net.window)
        return Windows(calibrated(self.net, windows.boxes, crops, self.mirror), windows.scores)


class Suppress:
    """Non-maximum suppression: overlaps above `iou` go, best first; with `over_smaller`, overlaps measured over
    the smaller box's area, so that where a box lies inside another the lower-scoring one goes too. With
    `vote_iou`, each box kept becomes the score-weighted mean of the boxes overlapping it by vote_iou or more
    (1 keeps it as it is but for boxes identical to it)."""

    def __init__(self, iou, vote_iou=None, over_smaller=False):
        self.iou, self.vote_iou, self.over_smaller = iou, vote_iou, over_smaller

    def __call__(self, picture, windows):
        keep = nms(windows.boxes, windows.scores, self.iou, self.over_smaller)
        if self.vote_iou is None:
            return windows.take(keep)
        return Windows(voted(windows.boxes, windows.scores, keep, self.vote_iou), windows.scores[keep])


class Supported:
    """The windows that at least `count` others overlap by more than `iou`."""

    def __init__(self, count, iou):
        self.count, self.iou = count, iou

    def __call__(self, picture, windows):
        return windows.take(neighbours(windows.boxes, self.iou) >= self.count)


def net_positions(stages):
    """The positions of the stages that read windows with a net (Scan, Judge)."""
    return [k for k, stage in enumerate(stages) if getattr(stage, "reads", False)]


def first_nets(stages, count):
    """`stages` before the (count+1)-th that reads windows with a net: a detector cut after `count` nets."""
    reading = net_positions(stages)
    if not 1 <= count <= len(reading):
        raise ValueError(f"stages {count}: this detector has {len(reading)} stage{'s' * (len(reading) > 1)}")
    return stages[:reading[count]] if count < len(reading) else stages


class Detector:
    """Runs `stages` in order on an image; crops are cut from the image's octaves down to `smallest` pixels
    (None: from the image itself). With `tilts` (degrees, anticlockwise), the stages also run on the image
    turned by each angle, for heads tilted about that far, which the nets learnt upright only: each box found
    there that scores `tilt_threshold` or more is turned back about its centre (upright, its side kept), and
    the suppressions that end `stages` run once more over the boxes of every view. The turned views look at
    everything again, so that a looser threshold there would add the false positives of a second search."""

    def __init__(self, stages, smallest=None, tilts=(), tilt_threshold=0.0):
        self.stages, self.smallest, self.tilts = list(stages), smallest, check_tilts(tilts)
        self.tilt_threshold = tilt_threshold
        self.depth = len(net_positions(self.stages))    # how many nets read windows
        ending = len(self.stages)
        while ending and isinstance(self.stages[ending - 1], Suppress):
            ending -= 1
        self.suppressions = self.stages[ending:]

    def detect(self, image):
        """Faces in `image` (an array, or a path to read): float (K, 4) boxes as x, y, w, h, and (K,) scores."""
        image = read_image(image) if isinstance(image, (str, os.PathLike)) else as_rgb(image)
        windows = self.found(image)
        if self.tilts:
            views = [windows] + [self.found_turned(image, degrees) for degrees in self.tilts]
            windows = Windows(np.concatenate([v.boxes for v in views]), np.concatenate([v.scores for v in views]))
            for stage in self.suppressions:
                windows = stage(None, windows)
        return windows.boxes, windows.scores

    def found(self, image):
        """The windows that the stages keep in `image`."""
        picture, windows = Picture(image, self.smallest), NO_WINDOWS
        for stage in self.stages:
            windows = stage(picture, windows)
        return windows

    def found_turned(self, image, degrees):
        """The windows found in `image` turned by `degrees` that score tilt_threshold or more, turned back;
        those whose centre falls off the image (on the turned canvas's corners) left out."""
        canvas, matrix = turned(image, degrees)
        windows = self.found(canvas)
        boxes = centres_moved(windows.boxes, cv2.invertAffineTransform(matrix))
        height, width = image.shape[:2]
        x, y = boxes[:, 0] + boxes[:, 2] / 2, boxes[:, 1] + boxes[:, 3] / 2
        kept = (x >= 0) & (y >= 0) & (x < width) & (y < height) & (windows.scores >= self.tilt_threshold)
        return Windows(boxes[kept], windows.scores[kept])


def check_tilts(tilts):
    """tilts as a tuple of floats; ValueError in one line for an angle that is not finite, is 0 (the image as it
    is, always searched), lies beyond a half turn, or is given twice."""
    tilts = tuple(float(t) for t in tilts)
    for degrees in tilts:
        if not (np.isfinite(degrees) and 0 < abs(degrees) <= 180):
            raise ValueError(f"tilt {degrees:g}: an angle in degrees, not 0, from -180 to 180")
    if len(set(tilts)) < len(tilts):
        raise ValueError(f"tilts {', '.join(f'{t:g}' for t in tilts)}: an angle is given twice")
    return tilts


def turned(image, degrees):
    """`image` turned by `degrees` anticlockwise about its centre onto a canvas that holds all of it (black
    beyond it), and the (2, 3) affine matrix that takes the image's pixels to the canvas's."""
    height, width = image.shape[:2]
    matrix = cv2.getRotationMatrix2D((width / 2, height / 2), degrees, 1.0)
    cos, sin = abs(matrix[0, 0]), abs(matrix[0, 1])
    side_x, side_y = (int(np.ceil(side - 1e-6)) for side in (height * sin + width * cos, height * cos + width * sin))
    matrix[:, 2] += (side_x - width) / 2, (side_y - height) / 2
    return cv2.warpAffine(image, matrix, (side_x, side_y), flags=cv2.INTER_LINEAR), matrix


def centres_moved(boxes, matrix):
    """boxes (K, 4) as x, y, w, h with their centres taken by the (2, 3) affine `matrix`, their sides kept."""
    centres = np.c_[boxes[:, :2] + boxes[:, 2:] / 2, np.ones(len(boxes))] @ matrix.T
    return np.c_[centres - boxes[:, 2:] / 2, boxes[:, 2:]]


def calibrated(cal, boxes, crops, mirror=False):
    """boxes (K, 4) corrected by the calibration net `cal` from their crops at its input side. With `mirror`,
    each box is the mean of that correction and of the one read from the crop's mirror image, mirrored back:
    two readings of the same face, as a face is near symmetric (the nets never trained on mirrored windows,
    whose patterns differ)."""
    if not len(boxes):
        return boxes
    corrected = calibrate(boxes, cal.probabilities(crops))
    if not mirror:
        return corrected
    other = calibrate(boxes, cal.probabilities(crops[:, :, ::-1]))
    other[:, 0] = 2 * boxes[:, 0] + boxes[:, 2] - other[:, 0] - other[:, 2]   # x' mirrored about the window
    return (corrected + other) / 2


def voted(boxes, scores, keep, min_iou):
    """Each of boxes[keep] replaced by the score-weighted mean of the boxes that overlap it by min_iou or more."""
    out = np.empty((len(keep), 4))
    for n, k in enumerate(keep):
        close = iou(boxes[k], boxes) >= min_iou
        close[k] = True             # a box's IoU with itself can round below 1
        weights = np.maximum(scores, 1e-12) * close   # a zero score still counts
        out[n] = weights @ boxes / weights.sum()
    return out
