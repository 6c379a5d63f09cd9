"""A sliding-window face detector around face / non-face classifiers (the anime detector).

Windows of side min_size, min_size * step, ... up to the image's short side are scored on a grid whose
stride is the classifier's total stride (16 of FrgNet64-slim's 64 pixels: a quarter of the window).
Three ways to score them:
- "fcn": each scale's resized image goes once through the classifier made fully convolutional, so
  windows share their computation;
- "windows": the same windows are cut and resized into one batch by a numba kernel and classified as
  crops (the slow reference for "fcn": both score a window alike);
- "cascade" (the default when a first stage is given): a 12x12 net scans the pyramid fully
  convolutionally at a fifth of the resolution, and only the windows it lets through (at least
  `proposal_threshold`, overlaps above `proposal_iou` suppressed) are cut out and judged by the 64x64
  classifier, in one batch. With a `calibration` net (Li et al.'s 45 patterns), each such window is first
  moved and rescaled onto the face it cuts, so that the classifier judges it framed as in training (on
  composed scenes, a calibrated window judged finds more faces than one calibrated after judging).
  Calibrated windows converge on their faces: those overlapping by `merge_iou` or more are merged into one,
  their mean weighted by the first stage's scores, before the classifier reads them (a third less time, and
  fewer false positives). The
  patterns correct a window's side by at most a fifth; the first stage also proposes windows of 0.6x or 1.5x
  a face, which a net trained on such windows too (nets/registry.py) moves as far as a pattern goes, rather
  than leaving them where they are. With a `second_stage` (a 24x24 face / non-face net, as Li et al.'s
  24-net), only the merged windows it scores at least `second_threshold` go on to the classifier: on busy
  illustrations the classifier rejected 97% of what it read, at ten times the second stage's cost a window.
  `stages` stops the cascade early (1: the merged windows, 2: those the second stage passes), which is how
  the second stage's hard negatives are mined.
Every method calibrates the windows it keeps (the cascade once more, as Li et al. calibrate after every
stage): the classifier's scores saturate near 1 about a face, and without it the final suppression kept, by
a hair, a window of 1.3x the face about as often as one that framed it. What each of these choices measured
is in nets/weights/README.md.
With `mirror`, a cut-out window's score is the mean of the classifier's for the crop and for its mirror
image (the "fcn" path has no crops, and ignores it; the second stage reads each crop once: its mirror image
bought no recall on 200 tuning scenes), and each calibration the mean of the corrections read
from the two, the mirror image's mirrored back. Windows scoring at least `threshold` are kept; a window
may be asked to have `min_neighbors` others overlapping it (IoU above `group_iou`, as OpenCV's cascades group
theirs); then overlaps above `nms_iou` are suppressed, best first, and each box kept may become the
score-weighted mean of the boxes overlapping it by `vote_iou` or more (box voting; the default, 1, keeps it
as it is: with the classifier's scores near 1 on every window about a face, voting framed the faces of the
tuning scenes no better and added false positives).
"""
import functools
import inspect

import numpy as np

from nanonet.backend import to_cpu
from nanonet.layers.activation import softmax
from nanonet.model import batch_norm_folded, fully_convolutional
from nets.pyramid import window_sizes
from nets.stages import Calibrate, Detector, Grid, Judge, Scan, Supported, Suppress, first_nets, net_positions

METHODS = ("cascade", "fcn", "windows")
# the nets a detector runs, by their constructors' arguments (SlidingWindowDetector's, CascadeDetector's)
NET_ARGUMENTS = ("classifier", "first_stage", "calibration", "second_stage", "net12", "cal12", "net24", "cal24",
                 "net48", "cal48")
SMALLEST_FACE = 8    # px: a smaller min_size would blow the image up by 12 / min_size for the 12-pixel nets


def settings_names(detector):
    """The names of a detector class's settings: its constructor's arguments but the nets it runs."""
    return [name for name in inspect.signature(detector).parameters if name not in NET_ARGUMENTS]


def default_setting(detector, name):
    """A detector class's default for setting `name`."""
    return inspect.signature(detector).parameters[name].default


def check_settings(min_size, scale_step, probabilities, overlaps):
    """ValueError in one line for a setting that would hang or mean nothing: min_size below SMALLEST_FACE, a
    scale step not above 1, a probability (threshold) or an overlap (IoU) outside 0..1, anything not finite."""
    if not (np.isfinite(min_size) and min_size >= SMALLEST_FACE):
        raise ValueError(f"min_size {min_size}: the smallest face side must be at least {SMALLEST_FACE} pixels")
    if not (np.isfinite(scale_step) and 1.01 <= scale_step <= 4):
        raise ValueError(f"scale_step {scale_step}: the pyramid's step must lie between 1.01 and 4")
    for kind, settings in (("a probability", probabilities), ("an overlap (IoU)", overlaps)):
        for name, value in settings.items():
            if not (isinstance(value, (int, float, np.floating)) and 0 <= value <= 1):
                raise ValueError(f"{name} {value}: {kind} lies between 0 and 1")


class Net:
    """A trained net with its input side and normalisation, scoring batches of crops."""

    def __init__(self, model, normalization, window, classes):
        self.model, self.normalization = batch_norm_folded(model), normalization
        self.window, self.classes = window, classes

    def probabilities(self, crops, batch=256):
        """Softmax (N, classes) of each uint8 (N, window, window, 3) crop."""
        xp = self.model.xp
        out = [to_cpu(softmax(self.model.predict(self.normalization(xp.asarray(crops[i:i + batch])))))
               for i in range(0, len(crops), batch)]
        return np.concatenate(out) if out else np.zeros((0, self.classes), np.float32)


class Classifier(Net):
    """A face / non-face net, which can also scan a whole image fully convolutionally."""

    def __init__(self, model, normalization, face_class, window):
        super().__init__(model, normalization, window, 2)
        self.face_class, self._fcns = face_class, {}

    def fcn(self, every=1):
        """The net evaluated fully convolutionally at every `every`-th window, built on first use (a
        branched net has none)."""
        if every not in self._fcns:
            self._fcns[every] = fully_convolutional(self.model, (3, self.window, self.window), every)
        return self._fcns[every]

    @functools.cached_property
    def stride(self):
        """The total stride: how many output cells an input twice the window wide gives."""
        cells = self.fcn().predict(self.model.xp.zeros((1, 3, self.window, 2 * self.window), np.float32)).shape[3]
        return self.window // (cells - 1)

    def face_probability(self, crops):
        """Face probability of each uint8 (N, window, window, 3) crop."""
        return self.probabilities(crops)[:, self.face_class]

    def mean_probability(self, views, count, threshold, floor=0.0):
        """Mean face probability of `count` windows over `views`, each a function from window indices (or a
        slice) to those windows' uint8 (K, window, window, 3) crops as that view shows them (the crop, its
        mirror image, ...): (count,) means. A view reads only the windows that could still reach `threshold`
        were every later view to score 1, and whose mean over the views before reaches `floor`; a view that
        skips a window adds 0 to its mean (exact, then, for every window that reaches threshold when floor is
        0)."""
        total, indices = np.zeros(count), slice(None)      # the first view reads every window, uncopied
        for k, view in enumerate(views):
            total[indices] += self.face_probability(view(indices))
            hopeful = total + len(views) - 1 - k >= len(views) * threshold
            indices = np.flatnonzero(hopeful & (total >= (k + 1) * floor))
        return total / len(views)

    def mirrored(self, crops, threshold):
        """Face probability of each crop averaged with its mirror image's (the nets trained on both), exact
        where it reaches `threshold` (mean_probability())."""
        return self.mean_probability([lambda i: crops[i], lambda i: crops[i, :, ::-1]], len(crops), threshold)

    def level_shape(self, height, width, size):
        """(width, height) of the image scaled so that a window of side `size` becomes this net's input."""
        scale = self.window / size
        return max(self.window, round(width * scale)), max(self.window, round(height * scale))

    def scan_level(self, level, image_shape, threshold, every=1, crops=False):
        """The windows on this net's grid over `level`, an image of `image_shape` resized to level_shape()
        (every `every`-th of them in each direction), whose face probability is at least threshold, scored
        fully convolutionally: (boxes (K, 4) in the image's coordinates, scores (K,)), and with crops=True
        their uint8 (K, window, window, 3) crops, cut from the level."""
        sx, sy = level.shape[1] / image_shape[1], level.shape[0] / image_shape[0]
        x = self.normalization(self.model.xp.asarray(level[None]))
        face = to_cpu(softmax(self.fcn(every).predict(x))[0, self.face_class])       # (gh, gw)
        gy, gx = np.nonzero(face >= threshold)
        step = self.stride * every
        boxes = np.stack([gx * step / sx, gy * step / sy,
                          np.full(len(gx), self.window / sx), np.full(len(gx), self.window / sy)], axis=1)
        found = boxes.reshape(-1, 4), face[gy, gx]
        if crops:
            windows = np.lib.stride_tricks.sliding_window_view(level, (self.window, self.window, 3))[::step, ::step, 0]
            found += (np.ascontiguousarray(windows[gy, gx]),)
        return found

    def grid(self, height, width, size):
        """The windows of side `size` that scan_level() scores on that size's level, as (K, 4) boxes."""
        step = size * self.stride / self.window
        ys, xs = np.arange(0, height - size + 1e-9, step), np.arange(0, width - size + 1e-9, step)
        return np.array([(x, y, size, size) for y in ys for x in xs]).reshape(-1, 4)


class SlidingWindowDetector(Detector):
    """Defaults tuned on scenes composed from held-out crops (seeds 3 to 6, 3 to 12 for the calibration, 4 to 9
    for the threshold, with cel-shaded training photographs; nets/weights/README.md), none of them
    benchmarks/bench_anime.py's; `tilt_threshold`, for the turned views of `tilts`, is the threshold's."""

    def __init__(self, classifier, first_stage=None, calibration=None, second_stage=None, min_size=48, threshold=0.85,
                 nms_iou=0.1, scale_step=1.25, method=None, min_neighbors=0, group_iou=0.3, proposal_threshold=0.3,
                 proposal_iou=0.7, mirror=True, vote_iou=1.0, merge_iou=0.8, second_threshold=0.1, stages=None,
                 tilts=(), tilt_threshold=0.85):
        check_settings(min_size, scale_step, dict(threshold=threshold, proposal_threshold=proposal_threshold,
                                                  second_threshold=second_threshold, tilt_threshold=tilt_threshold),
                       dict(nms_iou=nms_iou, group_iou=group_iou, proposal_iou=proposal_iou, vote_iou=vote_iou,
                            merge_iou=merge_iou))
        method = method or ("cascade" if first_stage else "fcn")
        if method not in METHODS:
            raise ValueError(f"unknown method {method!r}; choose from {', '.join(METHODS)}")
        if method == "cascade" and first_stage is None:
            raise ValueError("the cascade method needs a first-stage net")
        self.settings = {k: v for k, v in locals().items() if k in settings_names(SlidingWindowDetector)}
        self.classifier, self.first_stage, self.calibration, self.method = classifier, first_stage, calibration, method
        self.second_stage = second_stage if method == "cascade" else None
        if method == "fcn":
            found = [Scan(classifier, min_size, scale_step, threshold)]
        elif method == "windows":
            found = [Grid(classifier, min_size, scale_step), Judge(classifier, threshold, mirror)]
        else:
            found = [Scan(first_stage, min_size, scale_step, proposal_threshold), Suppress(proposal_iou)]
            if calibration is not None:
                found += [Calibrate(calibration, mirror), Suppress(merge_iou, vote_iou=merge_iou)]
            if self.second_stage is not None:
                found.append(Judge(self.second_stage, second_threshold))
            found.append(Judge(classifier, threshold, mirror))
        depth = len(net_positions(found))
        complete = stages in (None, depth)
        found = first_nets(found, stages or depth)     # a cut cascade still ends with the suppression
        if calibration is not None and complete:
            found.append(Calibrate(calibration, mirror))
        if min_neighbors:
            found.append(Supported(min_neighbors, group_iou))
        found.append(Suppress(nms_iou, vote_iou=vote_iou))
        super().__init__(found, smallest=classifier.window, tilts=tilts, tilt_threshold=tilt_threshold)

    def predict_proba(self, crops):
        """Face probability of each uint8 (N, 64, 64, 3) crop."""
        return self.classifier.face_probability(crops)

    def window_sizes(self, height, width):
        return window_sizes(height, width, self.settings["min_size"], self.settings["scale_step"])
