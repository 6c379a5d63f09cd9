"""Boxes (x, y, w, h): their intersection over union, and greedy non-maximum suppression (keep the
best-scoring box, drop those overlapping it, repeat). One overlap, _overlap, serves all of them: the
intersection over the union, or over the smaller box's area (MTCNN's 'Min' suppression, which also drops a
small box lying inside a larger one, whose IoU is small)."""
import numpy as np
from numba import njit


@njit(cache=True)
def _overlap(a, b, over_smaller=False):
    """Intersection over union of two boxes (x, y, w, h); with over_smaller, over the smaller one's area."""
    w = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
    h = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    if w <= 0 or h <= 0:
        return 0.0
    inter = w * h
    if over_smaller:    # at most 1, which rounding of the sides' sums could pass for a box inside the other
        return min(1.0, inter / min(a[2] * a[3], b[2] * b[3]))
    return inter / (a[2] * a[3] + b[2] * b[3] - inter)


@njit(cache=True)
def _overlaps(box, boxes):
    out = np.empty(len(boxes))
    for k in range(len(boxes)):
        out[k] = _overlap(box, boxes[k])
    return out


def iou(box, boxes):
    """Intersection over union of one box (4,) with each of boxes (K, 4): (K,)."""
    return _overlaps(np.asarray(box, dtype=np.float64).reshape(4),
                     np.ascontiguousarray(boxes, dtype=np.float64).reshape(-1, 4))


def nms(boxes, scores, iou_threshold, over_smaller=False):
    """Indices of the boxes (M, 4) as x, y, w, h that survive, best score first.

    A box is dropped when its IoU with an already kept box exceeds iou_threshold; with over_smaller, when
    their intersection over the smaller box's area does.
    """
    boxes = np.ascontiguousarray(boxes, dtype=np.float64).reshape(-1, 4)
    scores = np.ascontiguousarray(scores, dtype=np.float64).reshape(-1)
    return _nms_cpu(boxes, scores, float(iou_threshold), bool(over_smaller))


@njit(cache=True)
def _nms_cpu(boxes, scores, iou_threshold, over_smaller):
    order = np.argsort(-scores, kind="mergesort")  # stable: ties keep their input order
    n = len(order)
    suppressed = np.zeros(n, dtype=np.bool_)
    keep = np.empty(n, dtype=np.int64)
    kept = 0
    for a in range(n):
        i = order[a]
        if suppressed[i]:
            continue
        keep[kept] = i
        kept += 1
        for b in range(a + 1, n):
            j = order[b]
            if suppressed[j]:
                continue
            if _overlap(boxes[i], boxes[j], over_smaller) > iou_threshold:
                suppressed[j] = True
    return keep[:kept]


def neighbours(boxes, iou_threshold):
    """For each box (M, 4), how many other boxes overlap it with IoU above iou_threshold."""
    boxes = np.ascontiguousarray(boxes, dtype=np.float64).reshape(-1, 4)
    return _neighbours_cpu(boxes, float(iou_threshold))


@njit(cache=True)
def _neighbours_cpu(boxes, iou_threshold):
    n = len(boxes)
    count = np.zeros(n, dtype=np.int64)
    for i in range(n):
        for j in range(i + 1, n):
            if _overlap(boxes[i], boxes[j]) > iou_threshold:
                count[i] += 1
                count[j] += 1
    return count


def iou_reference(a, b, over_smaller=False):
    """Slow, obvious IoU of two boxes (x, y, w, h): the overlap's area over the union's (or the smaller box's)."""
    overlap_w = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    overlap_h = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    overlap = overlap_w * overlap_h
    if over_smaller:
        return overlap / min(a[2] * a[3], b[2] * b[3])
    return overlap / (a[2] * a[3] + b[2] * b[3] - overlap)


def nms_reference(boxes, scores, iou_threshold, over_smaller=False):
    """Slow, obvious greedy NMS in Python."""
    keep = []
    for i in sorted(range(len(scores)), key=lambda k: -scores[k]):
        if all(iou_reference(boxes[i], boxes[k], over_smaller) <= iou_threshold for k in keep):
            keep.append(i)
    return np.array(keep, dtype=np.int64)
