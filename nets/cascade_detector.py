"""Li et al.'s CNN cascade face detector (CVPR 2015): three stages, each a face / non-face net followed by a
45-class calibration net that moves and rescales the windows it keeps.

1. The 12-net scans an image pyramid fully convolutionally: level k is the image scaled by 12 / (min_size *
   scale_step^k), so a 12x12 window there is a face of that size, and windows lie every `stride` pixels
   of the level. Windows scoring at least threshold12 are calibrated by the 12-cal net, then overlaps
   above nms12 are suppressed. (A window scanned so sees one pixel more than a 12x12 crop: the 12-net pools
   10 -> 5 with ceil rounding, and the last pooling window, overhanging a crop, reads the next pixel of
   the image. The nets were trained on crops; the scan's recall is measured on whole images.)
2. Survivors are cut out of the image at 24x24 in one numba batch, each output pixel the mean of samples
   spread over the part of the window it covers (area averaging from the image, as the nets' training
   crops were resized. Cut from the pyramid's levels instead, a crop was resized twice and blurred more than
   any the nets trained on, and the 24-net rejected twice as many of the windows on faces.)
   They are scored by the 24-net (threshold24) and calibrated by the 24-cal net; overlaps above nms24 go.
3. Survivors are cut out at 48x48, scored by the 48-net (threshold) and calibrated by the 48-cal net;
   overlaps above nms_iou go, best first, and each box kept becomes the score-weighted mean of the boxes
   overlapping it by vote_iou or more (box voting, Gidaris and Komodakis 2015). The paper suppresses, then
   calibrates; calibrating every box first and voting puts the final boxes closer to the faces.
   vote_iou=1 keeps the best box of each cluster as it is.
   With `judge_moved` (the default) the 48-net judges each window twice, where it lies and where the 48-cal
   net moves it, and scores it by the mean: the 24-cal net leaves many windows a pattern or so off their
   faces, and the 48-net's score depends on the framing (the second reading is spared the windows that the
   first leaves no chance).
With `mirror` (the default) the 48-net and the calibration nets also read each crop's mirror image: the
48-net's score is the mean of its face probabilities for the two (the net trained on both), and each
calibration the mean of the two corrections, the mirror image's mirrored back: better placed boxes hit more
faces and merge more of their duplicates.
A window's score is its last net's face probability (adding the earlier nets' logits ranked faces no better).
What each of these choices measured is in nets/weights/README.md ("Design measurements").
`stages` stops the cascade early (1 or 2), which is how the later nets' hard negatives are mined.
"""
import os

import numpy as np

from nanonet.data.image import read_image
from nanonet.kernels.nms import nms
from nanonet.kernels.windows import extract_windows
from nets.detector import (EMPTY_BOXES, EMPTY_SCORES, as_rgb, calibrated, check_settings, joined, scan_pyramid,
                           voted, window_sizes)


class CascadeDetector:
    """Defaults tuned on the held-out WebFaces images (benchmarks/bench_face.py), not counting the faces that
    the annotations miss: threshold 0.5 finds more of the annotated faces than OpenCV's Haar cascade with fewer
    false positives. `read_floor` spares the later views (mirror image, moved window) the windows that the
    views before score below it, for time."""

    def __init__(self, net12, cal12, net24=None, cal24=None, net48=None, cal48=None, min_size=24,
                 scale_step=1.25, stride=4, threshold12=0.3, nms12=0.5, threshold24=0.2, nms24=0.5,
                 threshold=0.5, nms_iou=0.3, vote_iou=0.3, mirror=True, judge_moved=True, read_floor=0.1,
                 stages=None):
        check_settings(min_size, scale_step, dict(threshold12=threshold12, threshold24=threshold24,
                                                  threshold=threshold, read_floor=read_floor),
                       dict(nms12=nms12, nms24=nms24, nms_iou=nms_iou, vote_iou=vote_iou))
        self.nets = [(net12, cal12), (net24, cal24), (net48, cal48)]
        self.stages = stages or sum(net is not None for net, _ in self.nets)
        if not 1 <= self.stages <= 3 or any(None in pair for pair in self.nets[:self.stages]):
            raise ValueError(f"a cascade of {self.stages} stages needs both nets of each stage")
        if stride % net12.stride:
            raise ValueError(f"stride {stride} is not a multiple of the 12-net's own stride {net12.stride}")
        self.min_size, self.scale_step, self.stride = min_size, scale_step, stride
        self.thresholds = (threshold12, threshold24, threshold)
        self.nms_ious, self.vote_iou, self.mirror = (nms12, nms24, nms_iou), vote_iou, mirror
        self.judge_moved, self.read_floor = judge_moved, read_floor

    def predict_proba(self, crops):
        """Face probability of each uint8 (N, 48, 48, 3) crop, by the last stage's net."""
        return self.nets[self.stages - 1][0].face_probability(crops)

    def window_sizes(self, height, width):
        return window_sizes(height, width, self.min_size, self.scale_step)

    def detect(self, image):
        """Faces in `image` (an array, or a path to read): float (K, 4) boxes as x, y, w, h, and (K,) scores."""
        image = read_image(image) if isinstance(image, (str, os.PathLike)) else as_rgb(image)
        net12, cal12 = self.nets[0]
        found = scan_pyramid(net12, image, self.window_sizes(*image.shape[:2]), self.thresholds[0],
                             self.stride // net12.stride, crops=True)
        no_crops = np.zeros((0, net12.window, net12.window, 3), np.uint8)
        boxes, scores, crops = joined(found, EMPTY_BOXES, EMPTY_SCORES, no_crops)
        boxes = calibrated(cal12, boxes, crops, self.mirror)
        keep = nms(boxes, scores, self.nms_ious[0])
        boxes, scores = boxes[keep], scores[keep]
        for stage in range(1, self.stages):
            net, cal = self.nets[stage]
            crops = extract_windows(image, boxes, net.window)
            if stage == 2:
                boxes, scores = self.judged(image, boxes, crops)
            else:
                scores = net.face_probability(crops)
                passed = scores >= self.thresholds[stage]
                boxes, scores = calibrated(cal, boxes[passed], crops[passed], self.mirror), scores[passed]
            keep = nms(boxes, scores, self.nms_ious[stage])
            boxes = voted(boxes, scores, keep, self.vote_iou) if stage == 2 else boxes[keep]
            scores = scores[keep]
        return boxes, scores

    def judged(self, image, boxes, crops):
        """The 48-net's verdict on windows (K, 4) with their 48x48 crops: (boxes, scores) of those scoring at
        least `threshold`, each box moved by the 48-cal net. A score is the mean of the 48-net's face
        probabilities for the views of the window: its crop, and with `judge_moved` the crop of the
        window as the 48-cal net moves it (each with its mirror image, with `mirror`). A later view reads only
        the windows whose mean over the views before reaches `read_floor`."""
        net, cal = self.nets[2]
        moved_boxes, moved_crops = boxes.copy(), np.empty_like(crops)

        def moved(i):
            moved_boxes[i] = calibrated(cal, boxes[i], crops[i], self.mirror)
            moved_crops[i] = extract_windows(image, moved_boxes[i], net.window)
            return moved_crops[i]

        views = [lambda i: crops[i], lambda i: crops[i, :, ::-1]][:1 + self.mirror]
        if self.judge_moved:    # last: the 48-cal net moves only the windows that the crop leaves in play
            views += [moved, lambda i: moved_crops[i, :, ::-1]][:1 + self.mirror]
        scores = net.mean_probability(views, len(boxes), self.thresholds[2], self.read_floor)
        passed = np.flatnonzero(scores >= self.thresholds[2])
        if self.judge_moved:
            return moved_boxes[passed], scores[passed]
        return calibrated(cal, boxes[passed], crops[passed], self.mirror), scores[passed]
