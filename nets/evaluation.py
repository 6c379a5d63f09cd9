"""Detection accuracy on annotated images: recall against false positives per image (a discrete ROC).

A detection is a hit when its IoU with a face not yet matched is at least min_iou (0.5, as FDDB's and
PASCAL's discrete scores); detections are matched best score first, so a face is found once and every
further detection on it counts as a false positive. Faces that the annotations miss can be given as
`ignore` boxes (PASCAL's "difficult", WIDER FACE's ignored faces): a detection that hits no annotated face
but overlaps one of them by min_iou or more counts neither as a hit nor as a false positive.
"""
import numpy as np

from nanonet.kernels.nms import iou


def match(boxes, scores, faces, min_iou=0.5):
    """bool (K,): which detections (boxes (K, 4), scores (K,)) hit one of faces (F, 4)."""
    return matched_faces(boxes, scores, faces, min_iou) >= 0


def matched_faces(boxes, scores, faces, min_iou=0.5):
    """int (K,): the face (an index into faces (F, 4)) that each detection hits, or -1."""
    face_of = np.full(len(boxes), -1, dtype=np.int64)
    free = np.ones(len(faces), dtype=bool)
    for k in np.argsort(-np.asarray(scores), kind="stable"):
        if not free.any():
            break
        overlap = np.where(free, iou(boxes[k], faces), 0.0)
        best = overlap.argmax()
        if overlap[best] >= min_iou:
            face_of[k], free[best] = best, False
    return face_of


def ignored(boxes, hits, ignore, min_iou=0.5):
    """bool (K,): which detections that are not hits overlap one of the ignore boxes (G, 4) by min_iou."""
    if len(ignore) == 0:
        return np.zeros(len(boxes), dtype=bool)
    return ~hits & np.array([iou(box, ignore).max() >= min_iou for box in boxes], dtype=bool)


class Tally:
    """Scores and hits of every detection over a set of images, with the number of faces and images."""

    def __init__(self):
        self.scores, self.hits, self.ignored, self.faces, self.images = [], [], [], 0, 0
        self.sides, self.found = [], []     # each face's side, and the score of the detection that hit it

    def add(self, boxes, scores, faces, min_iou=0.5, ignore=()):
        boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        faces = np.asarray(faces, dtype=np.float64).reshape(-1, 4)
        scores = np.asarray(scores, dtype=np.float64)
        face_of = matched_faces(boxes, scores, faces, min_iou)
        self.scores.append(scores)
        self.hits.append(face_of >= 0)
        found = np.full(len(faces), np.nan)     # NaN: found by none, at any threshold
        found[face_of[face_of >= 0]] = scores[face_of >= 0]
        self.sides.append(faces[:, 2])
        self.found.append(found)
        self.ignored.append(ignored(boxes, self.hits[-1], np.asarray(ignore, np.float64).reshape(-1, 4), min_iou))
        self.faces += len(faces)
        self.images += 1

    def false(self):
        """bool (K,) of the last image added: its false positives."""
        return ~self.hits[-1] & ~self.ignored[-1]

    def at(self, threshold=-np.inf, ignoring=True):
        """(recall, false positives per image) of the detections scoring at least threshold; with
        ignoring=False, those on ignored faces count as false positives too (the annotations alone)."""
        scores, hits, ignored_ = (np.concatenate(parts + [np.zeros(0, dtype)]) for parts, dtype in
                                  ((self.scores, float), (self.hits, bool), (self.ignored, bool)))
        kept, false = scores >= threshold, ~hits & (~ignored_ if ignoring else True)
        return (hits & kept).sum() / max(self.faces, 1), (false & kept).sum() / max(self.images, 1)

    def recall_by_side(self, edges, threshold=-np.inf):
        """[(faces, recall)] of the faces whose side lies in each [edges[i], edges[i + 1]) pixels, counting the
        detections scoring at least threshold."""
        sides, found = (np.concatenate(parts + [np.zeros(0)]) for parts in (self.sides, self.found))
        out = []
        for low, high in zip(edges[:-1], edges[1:]):
            inside = (sides >= low) & (sides < high)
            out.append((int(inside.sum()), float((found[inside] >= threshold).mean()) if inside.any() else np.nan))
        return out

    def roc(self, points=50, ignoring=True):
        """(thresholds, recall, false positives per image), thresholds spread over the scores' quantiles."""
        scores = np.concatenate(self.scores + [np.zeros(0)])
        thresholds = np.unique(np.quantile(scores, np.linspace(0, 1, points))) if len(scores) else np.zeros(0)
        recall, fp = np.array([self.at(t, ignoring) for t in thresholds]).reshape(-1, 2).T
        return thresholds, recall, fp
