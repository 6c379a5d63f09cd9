"""Nets that read a face's expression from its tight crop: the smile net of "Deep learning in the garage" and
an emotion net for FER-2013, with the valence / arousal regressor fine-tuned from it; and the reading of the
faces that a detector found.

Both read grey faces (their training sets are grey): a colour crop is turned grey before it is read, and the
grey repeated in three channels, as the data sets' grey images are. A detector's box frames a face as their
crops do: the face cascade's boxes on GENKI-4K and FER-2013 crops lie within 3% of the crop in position and
7% in side at the median (benchmarks/bench_smile.py), so a face's crop is its box.
"""
import numpy as np

import nanonet as nn
from nanonet.kernels.windows import extract_windows
from nets.samples import CALIBRATION_PATTERNS

# The emotion seed's (valence, arousal) for each class: pleasant (+) to unpleasant (-), tense (+) to calm (-).
VALENCE_AROUSAL = {"angry": (-3.0, 1.0), "contempt": (-3.5, -0.5), "disgust": (-1.0, -1.8), "fear": (-1.0, 2.8),
                   "happy": (4.0, 1.0), "neutral": (0.0, 0.0), "sad": (-3.5, -1.8), "surprise": (3.0, 2.0),
                   "uncertain": (0.0, -2.0)}


def smile_net(rng, classes=2):
    """The seed's smile net on 48x48 crops: four convolutions of 64 filters (5x5, 5x5, 3x3, 3x3), each with
    ReLU, batch norm and 2x2 max pooling (48 -> 24 -> 12 -> 6 -> 3), dense 256 with batch norm, dropout 0.1
    on the input and 0.3 before each dense layer."""
    layers = [nn.Dropout(0.1, rng=rng)]
    channels = 3
    for k in (5, 5, 3, 3):
        layers += [nn.Conv2D(channels, 64, k, pad=k // 2, rng=rng, input_grad=channels != 3), nn.ReLU(),
                   nn.BatchNorm(64), nn.MaxPool2D(2, cover_all=False)]
        channels = 64
    return nn.Sequential(*layers, nn.Dropout(0.3, rng=rng), nn.Linear(64 * 3 * 3, 256, rng=rng),
                         nn.BatchNorm(256), nn.ReLU(), nn.Dropout(0.3, rng=rng), nn.Linear(256, classes, rng=rng))


def emotion_net(rng, outputs=7):
    """A VGG-style net on 48x48 crops: three blocks of two 3x3 convolutions (64, 128, 256 channels), each
    with batch norm and ReLU, and a 2x2 max pool (48 -> 24 -> 12 -> 6), then dense 256 with batch norm and
    dropout 0.5 about it. `outputs`: the classes' logits, or (valence, arousal) for the regressor, which
    differs from the classifier in its last layer alone."""
    layers, channels = [], 3
    for width in (64, 128, 256):
        for _ in range(2):
            layers += [nn.Conv2D(channels, width, 3, pad=1, rng=rng, input_grad=channels != 3),
                       nn.BatchNorm(width), nn.ReLU()]
            channels = width
        layers.append(nn.MaxPool2D(2, cover_all=False))
    return nn.Sequential(*layers, nn.Dropout(0.5, rng=rng), nn.Linear(256 * 6 * 6, 256, rng=rng),
                         nn.BatchNorm(256), nn.ReLU(), nn.Dropout(0.5, rng=rng), nn.Linear(256, outputs, rng=rng))


class EmotionReader:
    """The emotion classifier and the valence / arousal regressor fine-tuned from it, reading the same crops."""

    def __init__(self, classifier, regressor):
        self.classifier, self.regressor, self.classes = classifier, regressor, classifier.classes
        self.input_size = classifier.input_size
        if regressor.input_size != self.input_size:
            raise ValueError(f"the emotion nets read {self.input_size} and {regressor.input_size} px crops; "
                             "they must read the same")

    def predict_proba(self, crops):
        """(N, len(classes)) probabilities of uint8 face crops (nets.readers.as_crops)."""
        return self.classifier.predict_proba(crops)

    def valence_arousal(self, crops):
        """(N, 2) valence and arousal of the crops, on the seed's scale (about -4 to 4)."""
        return self.regressor.predict(crops)


# The vote's windows take half the calibration patterns' steps: the patterns move a window by up to 0.17 of its
# side and rescale it by 0.83-1.21 to correct a first stage's rough windows, while the cascade's calibrated
# boxes err by about half that (bench_smile: 10th to 90th percentiles of -0.09 to +0.09 of the side, 0.83 to
# 1.15 in scale). Windows as far off as the patterns reach read worse than the box itself.
VOTE_SPREAD = 0.5


def windows_about(box, spread=VOTE_SPREAD):
    """The 45 windows of the vote about a face box (x, y, w, h): (45, 4). Li et al.'s calibration patterns
    (5 scales times 9 offsets, the box itself among them), centred on the box's centre, with their offsets and
    their scales' departures from 1 taken `spread` times."""
    scale, dx, dy = CALIBRATION_PATTERNS.T
    side = 1 + spread * (scale - 1)
    x, y, w, h = np.asarray(box, dtype=np.float64)
    cx, cy = x + w / 2 + spread * dx * w, y + h / 2 + spread * dy * h
    return np.stack([cx - side * w / 2, cy - side * h / 2, side * w, side * h], axis=1)


def read_faces(read, size, image, boxes, vote=True):
    """What `read` (uint8 crops (N, size, size, 3) -> (N, D)) says of each face box (K, 4) of `image`: (K, D).
    With `vote`, the seed's 45-window vote: the mean over the windows about the box (windows_about), as a
    detector's box may frame the whole face, its centre or a part of it; else the box's crop alone."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    if not len(boxes):
        return np.zeros((0, 0))
    windows = np.concatenate([windows_about(box) for box in boxes]) if vote else boxes
    out = read(extract_windows(image, windows, size))
    return out.reshape(len(boxes), -1, out.shape[1]).mean(axis=1)


def one_per_face(boxes, scores, cover=0.5):
    """Indices of the boxes to keep, best first, leaving out each box that a better one kept covers by `cover`
    of its own area or more: two boxes on one face (say a small one inside a large one) count once."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    kept = []
    for k in np.argsort(-np.asarray(scores), kind="stable"):
        x0 = np.maximum(boxes[k, 0], boxes[kept, 0])
        y0 = np.maximum(boxes[k, 1], boxes[kept, 1])
        x1 = np.minimum(boxes[k, 0] + boxes[k, 2], boxes[kept, 0] + boxes[kept, 2])
        y1 = np.minimum(boxes[k, 1] + boxes[k, 3], boxes[kept, 1] + boxes[kept, 3])
        inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
        smaller = np.minimum(boxes[k, 2] * boxes[k, 3], boxes[kept, 2] * boxes[kept, 3])
        if not np.any(inter >= cover * smaller):
            kept.append(k)
    return np.array(kept, dtype=np.int64)
