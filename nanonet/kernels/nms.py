"""Greedy non-maximum suppression: keep the best-scoring box, drop those overlapping it, repeat."""
import numpy as np
from numba import njit


def nms(boxes, scores, iou_threshold):
    """Indices of the boxes (M, 4) as x, y, w, h that survive, best score first.

    A box is dropped when its IoU with an already kept box exceeds iou_threshold.
    """
    boxes = np.ascontiguousarray(boxes, dtype=np.float64).reshape(-1, 4)
    scores = np.ascontiguousarray(scores, dtype=np.float64).reshape(-1)
    return _nms_cpu(boxes, scores, float(iou_threshold))


@njit(cache=True)
def _nms_cpu(boxes, scores, iou_threshold):
    order = np.argsort(-scores, kind="mergesort")  # stable: ties keep their input order
    n = len(order)
    x0, y0 = boxes[:, 0], boxes[:, 1]
    x1, y1 = x0 + boxes[:, 2], y0 + boxes[:, 3]
    area = boxes[:, 2] * boxes[:, 3]
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
            w = min(x1[i], x1[j]) - max(x0[i], x0[j])
            h = min(y1[i], y1[j]) - max(y0[i], y0[j])
            if w > 0 and h > 0:
                inter = w * h
                if inter / (area[i] + area[j] - inter) > iou_threshold:
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
            w = min(boxes[i, 0] + boxes[i, 2], boxes[j, 0] + boxes[j, 2]) - max(boxes[i, 0], boxes[j, 0])
            h = min(boxes[i, 1] + boxes[i, 3], boxes[j, 1] + boxes[j, 3]) - max(boxes[i, 1], boxes[j, 1])
            if w > 0 and h > 0:
                inter = w * h
                if inter / (boxes[i, 2] * boxes[i, 3] + boxes[j, 2] * boxes[j, 3] - inter) > iou_threshold:
                    count[i] += 1
                    count[j] += 1
    return count


def nms_reference(boxes, scores, iou_threshold):
    """Slow, obvious greedy NMS in Python."""
    from nanonet.data.detection import iou
    keep = []
    for i in sorted(range(len(scores)), key=lambda k: -scores[k]):
        if all(iou(np.asarray(boxes[i], float), [boxes[k]])[0] <= iou_threshold for k in keep):
            keep.append(i)
    return np.array(keep, dtype=np.int64)
