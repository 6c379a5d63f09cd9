"""A sliding-window face detector around a 64x64 face / non-face classifier (the anime detector).

Windows of side min_size, min_size * step, ... up to the image's short side are scored on a grid of
stride side / 4 (16 pixels in the classifier's 64x64 frame). Two ways to score them, same windows:
- "fcn" (the default): each scale's resized image goes once through the classifier made fully
  convolutional, so windows share their computation;
- "windows": the windows are cut and resized into one batch by a numba kernel and classified as crops.
Windows scoring at least `threshold` are kept; a face draws many such windows at neighbouring positions
and scales, a false alarm few, so a window needs `min_neighbors` others overlapping it (IoU above
`group_iou`, as OpenCV's cascades group theirs); then overlaps above `nms_iou` are suppressed, best first.
"""
import cv2
import numpy as np

from nanonet.backend import get_array_module, to_cpu
from nanonet.data.image import read_image
from nanonet.kernels.nms import neighbours, nms
from nanonet.kernels.windows import extract_windows
from nanonet.layers.activation import softmax
from nanonet.model import fully_convolutional

METHODS = ("fcn", "windows")


def as_rgb(image):
    """uint8 grey (H, W) or (H, W, 1), RGB, or RGBA -> (H, W, 3)."""
    image = np.asarray(image)
    if image.dtype != np.uint8 or image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] not in (1, 3, 4)):
        raise ValueError(f"expected a uint8 image (H, W), (H, W, 1), (H, W, 3) or (H, W, 4), got {image.dtype} {image.shape}")
    if image.ndim == 2:
        image = image[:, :, None]
    if image.shape[2] == 1:
        return np.repeat(image, 3, axis=2)
    return np.ascontiguousarray(image[:, :, :3])


class SlidingWindowDetector:
    window = 64        # the classifier's input side
    stride = 16        # the classifier's total stride, in its own pixels
    batch = 256        # crops classified at once by the "windows" method

    group_iou = 0.3

    def __init__(self, model, normalization, face_class=0, min_size=48, threshold=0.9, nms_iou=0.3,
                 scale_step=1.25, method="fcn", min_neighbors=0):
        if method not in METHODS:
            raise ValueError(f"unknown method {method!r}; choose from {', '.join(METHODS)}")
        self.model, self.normalization, self.face_class = model, normalization, face_class
        self.min_size, self.threshold, self.nms_iou = min_size, threshold, nms_iou
        self.scale_step, self.method, self.min_neighbors = scale_step, method, min_neighbors
        self.fcn = fully_convolutional(model, (3, self.window, self.window))

    def predict_proba(self, crops):
        """Face probability of each uint8 (N, 64, 64, 3) crop."""
        xp = self.model.xp
        out = []
        for i in range(0, len(crops), self.batch):
            x = self.normalization(xp.asarray(crops[i:i + self.batch]))
            out.append(to_cpu(softmax(self.model.predict(x))[:, self.face_class]))
        return np.concatenate(out) if out else np.zeros(0, np.float32)

    def window_sizes(self, height, width):
        sizes, size = [], float(self.min_size)
        while size <= min(height, width):
            sizes.append(size)
            size *= self.scale_step
        return sizes

    def detect(self, image):
        """Faces in `image` (an array, or a path to read): float (K, 4) boxes as x, y, w, h, and (K,) scores."""
        image = read_image(image) if isinstance(image, str) else as_rgb(image)
        height, width = image.shape[:2]
        boxes, scores = [np.zeros((0, 4))], [np.zeros(0)]
        for size in self.window_sizes(height, width):
            b, s = (self._scan_fcn if self.method == "fcn" else self._scan_windows)(image, size)
            boxes.append(b)
            scores.append(s)
        boxes, scores = np.concatenate(boxes), np.concatenate(scores)
        if self.min_neighbors:
            supported = neighbours(boxes, self.group_iou) >= self.min_neighbors
            boxes, scores = boxes[supported], scores[supported]
        keep = nms(boxes, scores, self.nms_iou)
        return boxes[keep], scores[keep]

    def _scan_fcn(self, image, size):
        height, width = image.shape[:2]
        scale = self.window / size
        shape = (max(self.window, round(width * scale)), max(self.window, round(height * scale)))
        resized = cv2.resize(image, shape, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
        sx, sy = shape[0] / width, shape[1] / height
        xp = self.model.xp
        x = self.normalization(xp.asarray(resized[None]))
        face = to_cpu(softmax(self.fcn.predict(x))[0, self.face_class])       # (gh, gw)
        gy, gx = np.nonzero(face >= self.threshold)
        boxes = np.stack([gx * self.stride / sx, gy * self.stride / sy,
                          np.full(len(gx), self.window / sx), np.full(len(gx), self.window / sy)], axis=1)
        return boxes, face[gy, gx]

    def _scan_windows(self, image, size):
        height, width = image.shape[:2]
        step = size * self.stride / self.window
        ys, xs = np.arange(0, height - size + 1e-9, step), np.arange(0, width - size + 1e-9, step)
        grid = np.array([(x, y, size, size) for y in ys for x in xs]).reshape(-1, 4)
        scores = self.predict_proba(extract_windows(image, grid, self.window))
        keep = scores >= self.threshold
        return grid[keep], scores[keep]
