"""Li et al.'s CNN cascade face detector (CVPR 2015): three stages, each a face / non-face net followed by a
45-class calibration net that moves and rescales the windows it keeps.

1. The 12-net scans an image pyramid fully convolutionally: level k is the image scaled by 12 / (min_size *
   scale_step^k), so a 12x12 window there is a face of that size, and windows lie every `stride` pixels
   of the level; windows of at least `fine_from` of the image's short side lie every 2 pixels of theirs
   (the 12-net's own stride, as MTCNN's P-Net's), a sixth of a window rather than a third: a face that
   fills much of its picture is read by few windows, and one turned towards profile passes the 12-net in
   fewer framings, so that it fell between them (the levels are small there: it costs little). Windows
   scoring at least threshold12 are calibrated by the 12-cal net, then overlaps above nms12 are suppressed.
   (A window scanned so sees one pixel more than a 12x12 crop: the 12-net pools 10 -> 5 with ceil rounding,
   and the last pooling window, overhanging a crop, reads the next pixel of the image. The nets were trained
   on crops; the scan's recall is measured on whole images.)
2. Survivors are cut out of the image at 24x24 in one numba batch, each output pixel the mean of samples
   spread over the part of the window it covers (area averaging from the image, as the nets' training
   crops were resized. Cut from the pyramid's levels instead, a crop was resized twice and blurred more than
   any the nets trained on, and the 24-net rejected twice as many of the windows on faces.)
   They are scored by the 24-net (threshold24) and calibrated by the 24-cal net; overlaps above nms24 go.
3. Survivors are cut out at 48x48, scored by the 48-net (threshold) and calibrated by the 48-cal net;
   overlaps above nms_iou go, best first, and each box kept becomes the score-weighted mean of the boxes
   overlapping it by vote_iou or more (box voting, Gidaris and Komodakis 2015). The paper suppresses, then
   calibrates; calibrating every box first and voting puts the final boxes closer to the faces.
   vote_iou=1 keeps the best box of each cluster as it is. Last, of two boxes the smaller of which lies more than
   `nested` of its area inside the other, the lower-scoring goes (MTCNN's last suppression, over the smaller
   box's area): in a large photograph, a big face's eyes or mouth may pass for a small face, and their IoU
   with it is small. nested=1 keeps them.
   With `judge_moved` (the default) the 48-net judges each window twice, where it lies and where the 48-cal
   net moves it, and scores it by the mean: the 24-cal net leaves many windows a pattern or so off their
   faces, and the 48-net's score depends on the framing (the second reading is spared the windows that the
   first leaves no chance).
With `mirror` (the default) the 24- and 48-nets and the 12- and 24-calibration nets also read each crop's mirror
image: a net's score is the mean of its face probabilities for the two (the nets trained on both), and
each calibration the mean of the two corrections, the mirror image's mirrored back: better placed boxes hit
more faces and merge more of their duplicates. With `mirror_cal48` the 48-cal net does too; off by default,
as its second reading placed no more boxes on faces and took a twentieth of the time.
A window's score is its last net's face probability (adding the earlier nets' logits ranked faces no better).
What each of these choices measured is in nets/weights/README.md ("Design measurements").
`stages` stops the cascade early (1 or 2), which is how the later nets' hard negatives are mined.
"""
import numpy as np

from nets.detector import check_settings, settings_names
from nets.pyramid import window_sizes
from nets.stages import Calibrate, Detector, Judge, Scan, Suppress


class CascadeDetector(Detector):
    """Defaults picked on bench_face.py's tuning table and figures: the most faces found over the held-out
    WebFaces images and the YouTube-68 frames (pictures unlike them) at no more than 0.04 false positives an
    image on each (faces the annotations miss not counted; the target's 0.05 less a margin), in no more time
    than MTCNN's at 640x480, then the fewest detections on its pictures without faces, people's bodies among
    them (boxes on clothing and hands mostly score 0.5-0.8).
    `fine_from` 0.25 finds 6 more of the 350 frames and 3 in 100 more of the covered faces, but took 5% more
    time; `threshold12` 0.25 (rather than 0.2) pays for it, and with `threshold24` 0.12 (0.15) and `threshold`
    0.55 (0.5) the cascade finds one WebFaces face fewer than before (0.953 rather than 0.954) at fewer false
    positives (0.036 rather than 0.039), in 0.95 of the time (nets/weights/README.md).
    `nms24` 0.6 rather than 0.5: of two calibrated windows on one face, the 24-net's favourite is not always the
    better placed, and the 48-net now judges both more often (nets/weights/README.md, "Design measurements").
    `read_floor` spares the later views (mirror image, moved window) the windows that the views before score
    below it, for time. The 24-net reads mirror images too: the mean of the two readings let 2 more held-out
    faces through (0.954 at 0.039 rather than 0.952 at 0.038), for a few per cent more time.
    `tilt_threshold`, for the turned views of `tilts`: the lowest at which upright faces
    drew no more false positives than the search without tilts (200 WebFaces training images; 0.5 drew twice
    as many)."""

    def __init__(self, net12, cal12, net24=None, cal24=None, net48=None, cal48=None, min_size=24,
                 scale_step=1.25, stride=4, threshold12=0.25, nms12=0.5, threshold24=0.12, nms24=0.6,
                 threshold=0.55, nms_iou=0.3, vote_iou=0.3, nested=0.7, mirror=True, mirror_cal48=False,
                 judge_moved=True, read_floor=0.1, fine_from=0.25, stages=None, tilts=(), tilt_threshold=0.8):
        check_settings(min_size, scale_step, dict(threshold12=threshold12, threshold24=threshold24,
                                                  threshold=threshold, read_floor=read_floor,
                                                  tilt_threshold=tilt_threshold),
                       dict(nms12=nms12, nms24=nms24, nms_iou=nms_iou, vote_iou=vote_iou, nested=nested))
        if not (isinstance(fine_from, (int, float, np.floating)) and 0 < fine_from <= 1):
            raise ValueError(f"fine_from {fine_from}: a fraction of the image's short side, above 0 and at most 1")
        self.settings = {k: v for k, v in locals().items() if k in settings_names(CascadeDetector)}
        pairs = [(net12, cal12), (net24, cal24), (net48, cal48)]
        given = stages or sum(net is not None for net, _ in pairs)
        if not 1 <= given <= 3 or any(None in pair for pair in pairs[:given]):
            raise ValueError(f"a cascade of {given} stages needs both nets of each stage")
        if stride % net12.stride:
            raise ValueError(f"stride {stride} is not a multiple of the 12-net's own stride {net12.stride}")
        self.last_net = pairs[given - 1][0]
        found = [Scan(net12, min_size, scale_step, threshold12, stride // net12.stride, keep_crops=True,
                      fine_from=fine_from),
                 Calibrate(cal12, mirror), Suppress(nms12)]
        if given > 1:
            found += [Judge(net24, threshold24, mirror, floor=read_floor), Calibrate(cal24, mirror), Suppress(nms24)]
        if given > 2:     # the 48-cal net moves only the windows that the crop leaves in play
            found += [Judge(net48, threshold, mirror, moved_by=cal48 if judge_moved else None, floor=read_floor,
                            mirror_moves=mirror_cal48)]
            found += [] if judge_moved else [Calibrate(cal48, mirror_cal48)]
            found += [Suppress(nms_iou, vote_iou=vote_iou), Suppress(nested, over_smaller=True)]
        super().__init__(found, tilts=tilts, tilt_threshold=tilt_threshold)

    def predict_proba(self, crops):
        """Face probability of each uint8 (N, 48, 48, 3) crop, by the last stage's net."""
        return self.last_net.face_probability(crops)

    def window_sizes(self, height, width):
        return window_sizes(height, width, self.settings["min_size"], self.settings["scale_step"])
